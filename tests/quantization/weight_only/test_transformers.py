"""GPTQ and SparseGPT on Hugging Face decoders built from configs (random weights, no download):
every linear in the decoder blocks is compressed block by block, the lm_head is left alone, the
GPTQ'd model generates, and its logits are closer to the float model's than RTN's are. Skipped without
transformers (an optional extra)."""
from __future__ import annotations

import copy

import pytest
import torch

from razor_ext.quantization import WeightOnlyQuantLinear, gptq

transformers = pytest.importorskip("transformers", reason="transformers is an optional extra")


def tiny_llama():
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128,
                                   num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                   max_position_embeddings=64)
    return transformers.LlamaForCausalLM(cfg).eval()


def calib(n=4, length=16):
    g = torch.Generator().manual_seed(1)
    return [dict(input_ids=torch.randint(0, 128, (1, length), generator=g)) for _ in range(n)]


def test_gptq_llama_generates_and_stays_close():
    model = tiny_llama()
    ref = copy.deepcopy(model)
    rtn = gptq(copy.deepcopy(model), None, bits=4, group_size=32, method="rtn")
    gptq(model, calib(8, 32), bits=4, group_size=32)
    quantized = [n for n, m in model.named_modules() if isinstance(m, WeightOnlyQuantLinear)]
    assert len(quantized) == 2 * 7 and all(n.startswith("model.layers.") for n in quantized)
    assert isinstance(model.lm_head, torch.nn.Linear)
    ids = torch.randint(0, 128, (1, 8), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        got, want, baseline = model(ids).logits, ref(ids).logits, rtn(ids).logits
    assert float((got - want).abs().mean()) < float((baseline - want).abs().mean())
    assert float((got - want).abs().mean()) < 0.25 * float(want.abs().mean())
    out = model.generate(ids, max_new_tokens=5, do_sample=False)
    assert out.shape == (1, 13)


def test_sparse_gpt_opt_2_4():
    from razor_ext.pruning import sparse_gpt
    torch.manual_seed(0)
    cfg = transformers.OPTConfig(vocab_size=128, hidden_size=64, ffn_dim=128, num_hidden_layers=2,
                                 num_attention_heads=4, max_position_embeddings=64, word_embed_proj_dim=64)
    model = transformers.OPTForCausalLM(cfg).eval()
    sparse_gpt(model, calib(), pattern="2:4")
    fc1 = model.model.decoder.layers[1].fc1.weight
    assert int((fc1.reshape(fc1.shape[0], -1, 4) != 0).sum(-1).max()) <= 2
    assert float((model.lm_head.weight == 0).float().mean()) < 0.01
    with torch.no_grad():
        assert torch.isfinite(model(**calib(1)[0]).logits).all()
