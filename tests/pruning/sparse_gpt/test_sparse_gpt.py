"""SparseGPT and magnitude pruning: on one linear layer SparseGPT's output error is below
magnitude pruning's at the same sparsity (unstructured and N:M), the N:M pattern is exact, the
sparsity is what was asked, and conv models and blocks go through the same call."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from razor_ext.pruning import magnitude_prune, sparse_gpt, sparse_gpt_prune
from razor_ext.pruning.sparse_gpt import parse_pattern, to_semi_structured


def correlated_inputs(n, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k // 8, generator=g).repeat_interleave(8, 1) + 0.1 * torch.randn(n, k, generator=g)


def copy_of(layer):
    new = nn.Linear(layer.in_features, layer.out_features)
    new.load_state_dict(layer.state_dict())
    return nn.Sequential(new)


def error(a, b, x):
    with torch.no_grad():
        return float((a(x) - b(x)).pow(2).mean())


@pytest.mark.parametrize("sparsity,pattern", [(0.5, None), (0.7, None), (0.5, "2:4"), (0.5, "4:8")])
def test_sparse_gpt_beats_magnitude(sparsity, pattern):
    torch.manual_seed(0)
    layer = nn.Linear(256, 48)
    x = correlated_inputs(1024, 256)
    s = sparse_gpt(copy_of(layer), [x], sparsity=sparsity, pattern=pattern)
    m = sparse_gpt(copy_of(layer), None, sparsity=sparsity, pattern=pattern, method="magnitude")
    held_out = correlated_inputs(512, 256, seed=1)
    assert error(layer, s, held_out) < 0.8 * error(layer, m, held_out)
    for pruned in (s, m):
        frac = float((pruned[0].weight == 0).float().mean())
        assert abs(frac - sparsity) < 0.01, frac


@pytest.mark.parametrize("pattern,keep,group", [("2:4", 2, 4), ("4:8", 4, 8), ("1:4", 1, 4)])
def test_n_m_pattern_is_exact(pattern, keep, group):
    x = torch.randn(300, 128)
    w = sparse_gpt_prune(torch.randn(24, 128), 2 * x.t() @ x / 300, pattern=pattern)
    nonzero = (w.reshape(24, -1, group) != 0).sum(-1)
    assert torch.equal(nonzero, torch.full_like(nonzero, keep))
    m = magnitude_prune(torch.randn(24, 128), pattern=pattern)
    assert torch.equal((m.reshape(24, -1, group) != 0).sum(-1), nonzero)


def test_zero_sparsity_keeps_weights():
    x = torch.randn(200, 32)
    w = torch.randn(4, 32)
    torch.testing.assert_close(sparse_gpt_prune(w, 2 * x.t() @ x / 200, sparsity=0.0), w)


def test_conv_model_and_bad_arguments():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 16, 5))
    sparse_gpt(model, [torch.randn(16, 4, 6, 6)], pattern="2:4")
    w = model[0].weight.reshape(8, -1)[:, :36]
    assert int((w.reshape(8, 9, 4) != 0).sum(-1).max()) <= 2
    with pytest.raises(ValueError, match="N:M"):
        parse_pattern("2-4")
    with pytest.raises(ValueError, match="N < M"):
        parse_pattern("4:4")
    with pytest.raises(ValueError, match="method"):
        sparse_gpt(model, None, method="wanda")
    with pytest.raises(ValueError, match="calib_batches"):
        sparse_gpt(model, None)


def test_semi_structured_leaves_cpu_weights_dense():
    model = sparse_gpt(nn.Sequential(nn.Linear(32, 8)), None, pattern="2:4", method="magnitude")
    assert to_semi_structured(model)[0].weight.layout == torch.strided
