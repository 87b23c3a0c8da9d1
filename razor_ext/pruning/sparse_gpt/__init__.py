"""SparseGPT (Frantar & Alistarh, 2023) and the magnitude baseline: one-shot unstructured or N:M
pruning of LLM decoders and plain linear / conv models, with the Hessian machinery of
:mod:`razor_ext.hessian` shared with GPTQ."""
from razor_ext.pruning.sparse_gpt.algorithm import SparseGPT
from razor_ext.pruning.sparse_gpt.api import sparse_gpt, to_semi_structured
from razor_ext.pruning.sparse_gpt.layer import magnitude_prune, parse_pattern, sparse_gpt_prune

__all__ = ['SparseGPT', 'magnitude_prune', 'parse_pattern', 'sparse_gpt', 'sparse_gpt_prune', 'to_semi_structured']
