"""``sparse_gpt``: one call to prune a model's linear (and conv) weights, SparseGPT or magnitude."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.hessian import layer_weight_matrix, replace_without_calibration, sequential_calibrate
from razor_ext.pruning.sparse_gpt.layer import magnitude_prune, parse_pattern, sparse_gpt_prune

METHODS = ("sparse_gpt", "magnitude")


def sparse_gpt(model: nn.Module, calib_batches: Iterable[Any] | None = None, sparsity: float = 0.5,
               pattern: str | None = None, percdamp: float = 0.01, blocksize: int = 128,
               layers: Sequence[str] | None = None, method: str = "sparse_gpt",
               progress: bool | None = None) -> nn.Module:
    """Prune ``model``'s linear / conv weights in place, unstructured or N:M, keeping their shapes
    (zeros where pruned).

    Calibration is block by block as for GPTQ (``razor_ext.hessian.sequential_calibrate``).
    On a GPU a ``'2:4'`` result can be turned into torch's semi-structured sparse weights with
    :func:`to_semi_structured`; on the CPU the weights stay dense with zeros.

    Args:
        model: a Hugging Face decoder or any model of ``nn.Linear`` / ``nn.Conv2d`` layers.
        calib_batches: model inputs; not needed for ``method='magnitude'``.
        sparsity: fraction pruned (unstructured); ignored with ``pattern``.
        pattern: ``None``, ``'2:4'`` or ``'4:8'`` (any ``'N:M'``: keep N of M).
        percdamp, blocksize: as in GPTQ (blocksize a multiple of M).
        layers: ``fnmatch`` patterns of layer names (default: all in the blocks).
        method: ``'sparse_gpt'`` or ``'magnitude'`` (the baseline, no calibration).

    Returns:
        ``model``.

    Example:
        >>> m = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8))
        >>> m = sparse_gpt(m, [torch.randn(16, 64)], sparsity=0.5)
        >>> float((m[0].weight == 0).float().mean())
        0.5
    """
    if method not in METHODS:
        raise ValueError(f"sparse_gpt: method must be one of {METHODS}, got {method!r}")
    parse_pattern(pattern)

    def layer_fn(_name: str, layer: nn.Module, hessian: Tensor | None) -> nn.Module:
        w = layer_weight_matrix(layer)
        if method == "magnitude":
            pruned = magnitude_prune(w, sparsity, pattern)
        else:
            pruned = sparse_gpt_prune(w, hessian, sparsity, pattern, percdamp, blocksize)
        layer.weight.data.copy_(pruned.reshape(layer.weight.shape).to(layer.weight.dtype))
        return layer

    if method == "magnitude":
        return replace_without_calibration(model, layer_fn, layers)
    if calib_batches is None:
        raise ValueError("sparse_gpt: calib_batches are needed for method='sparse_gpt'")
    return sequential_calibrate(model, calib_batches, layer_fn, layers, progress, desc=method)


def to_semi_structured(model: nn.Module) -> nn.Module:
    """Turn every CUDA ``nn.Linear`` weight that is exactly 2:4 sparse into torch's
    ``SparseSemiStructuredTensor`` (``torch.sparse.to_sparse_semi_structured``), in place.
    Other weights (and every CPU weight: torch has no CPU kernel for it) stay dense.

    Example:
        >>> m = to_semi_structured(nn.Linear(8, 8))  # a CPU model is returned unchanged
        >>> m.weight.layout
        torch.strided
    """
    for module in model.modules():
        if not isinstance(module, nn.Linear) or module.weight.device.type != "cuda":
            continue
        w = module.weight.detach()
        if w.shape[1] % 4 or int((w.reshape(w.shape[0], -1, 4) != 0).sum(-1).max()) > 2:
            continue
        module.weight = nn.Parameter(torch.sparse.to_sparse_semi_structured(w), requires_grad=False)
    return model
