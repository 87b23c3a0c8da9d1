"""Physical removal of large linears (LLM projections): both channel dims are cut block by block
straight into the new tensor; the result must equal two index_selects, whatever the block
boundaries or dtype; convs keep the batched gathers."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from razor_ext.pruning import removal
from razor_ext.pruning.removal import gather_state


def _keep(n: int, k: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).permutation(n)[:k])


@pytest.mark.parametrize('shape,dtype', [((1100, 1000), torch.float32),
                                         ((1030, 1100), torch.float64),
                                         ((1200, 900), torch.bfloat16)])
def test_blocked_gather_equals_index_select(shape, dtype, monkeypatch):
    # Small blocks (a few rows each, the last one partial) to cross many block boundaries.
    monkeypatch.setattr(removal, '_BLOCK_BYTES', 7 * shape[1] * 4 + 3)
    t = torch.randn(shape).to(dtype)
    rows, cols = _keep(shape[0], shape[0] // 2 + 1, 0), _keep(shape[1], shape[1] // 3, 1)
    assert t.numel() >= removal._BLOCKED_NUMEL
    dims = sorted([(1, cols), (0, rows)], key=lambda p: p[0])
    assert removal._blocked_fits(t, dims)
    out = removal._merged_gather(t, dims)
    want = t.index_select(0, torch.from_numpy(rows)).index_select(1, torch.from_numpy(cols))
    assert out.is_contiguous() and out.dtype == dtype
    assert torch.equal(out, want)


def test_gather_state_prunes_a_large_linear_like_a_small_one():
    torch.manual_seed(0)
    big = nn.Linear(1024, 1100)
    rows, cols = _keep(1100, 550, 2), _keep(1024, 512, 3)
    w, b = big.weight.detach().clone(), big.bias.detach().clone()
    gather_state(big, {'weight': [(1, cols), (0, rows)], 'bias': [(0, rows)]})
    assert big.weight.shape == (550, 512) and isinstance(big.weight, nn.Parameter)
    assert torch.equal(big.weight, w[torch.from_numpy(rows)][:, torch.from_numpy(cols)])
    assert torch.equal(big.bias, b[torch.from_numpy(rows)])


def test_several_large_linears_are_cut_in_threads_and_the_thread_count_is_restored():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1024, 1040), nn.Linear(1040, 1100, bias=False))
    plan = {'0.weight': [(0, _keep(1040, 520, 4)), (1, _keep(1024, 500, 5))],
            '1.weight': [(1, _keep(1040, 520, 4)), (0, _keep(1100, 600, 6))]}
    want = {k: model.get_parameter(k).detach()[torch.from_numpy(d[0][1]) if d[0][0] == 0
                                               else torch.from_numpy(d[1][1])]
            [:, torch.from_numpy(d[1][1] if d[1][0] == 1 else d[0][1])]
            for k, d in plan.items()}
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        gather_state(model, plan)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    for k, w in want.items():
        assert torch.equal(model.get_parameter(k), w)


def test_convs_keep_the_batched_gathers():
    w = torch.randn(1030, 1100, 1, 1)
    assert not removal._blocked_fits(w, [(0, _keep(1030, 500, 0)), (1, _keep(1100, 500, 1))])
