"""channel_gather and channel_norms over a ResNet-50 parameter set (267 float tensors, 25.6M
values), each against its eager loop and its memory floor, in one run.

Tensors are grouped by their dim-0 channel count, as pruning couples them; each group is one op
call. Gather takes half the channels of every tensor (a random sorted index per group).
Floors: for the gather, copying the same number of bytes into preallocated tensors; for the norms,
a read-only ``sum()`` of every tensor.
"""
from __future__ import annotations

import collections

import pytest
import torch

from razor_ext.models.architectures import resnet50
from razor_ext.ops import channel_gather, channel_norms


@pytest.fixture(scope="module")
def groups() -> dict[int, list[torch.Tensor]]:
    torch.manual_seed(0)
    tensors = [t for t in resnet50().state_dict().values() if t.is_floating_point()]
    assert len(tensors) == 267 and sum(t.numel() for t in tensors) == 25_610_152
    by_channels: dict[int, list[torch.Tensor]] = collections.defaultdict(list)
    for t in tensors:
        by_channels[t.shape[0]].append(t)
    return dict(by_channels)


@pytest.fixture(scope="module")
def half_index(groups) -> dict[int, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {c: torch.randperm(c, generator=g)[: c // 2].sort().values for c in groups}


def test_channel_gather_ours(compare, groups, half_index):
    compare("channel_gather resnet50 half", "ours",
            lambda: [channel_gather(ts, half_index[c], [0] * len(ts)) for c, ts in groups.items()])


def test_channel_gather_eager(compare, groups, half_index):
    compare("channel_gather resnet50 half", "eager",
            lambda: [[t.index_select(0, half_index[c]) for t in ts] for c, ts in groups.items()])


def test_channel_gather_floor(compare, groups):
    pairs = [(t[: c // 2], t.new_empty((c // 2, *t.shape[1:]))) for c, ts in groups.items() for t in ts]

    def copy_into_preallocated():
        for src, dst in pairs:
            dst.copy_(src)

    compare("channel_gather resnet50 half", "floor", copy_into_preallocated)


def test_channel_gather_alloc_floor(compare, groups):
    # The floor of any op that returns new tensors: allocate each output, then copy into it.
    sources = [t[: c // 2] for c, ts in groups.items() for t in ts]

    def allocate_and_copy():
        return [torch.empty_like(src).copy_(src) for src in sources]

    compare("channel_gather resnet50 half", "alloc floor", allocate_and_copy)


def test_channel_gather_ours_is_exact(groups, half_index):
    # The benchmark measures what the tests prove: same result as the eager loop.
    for c, ts in groups.items():
        for got, t in zip(channel_gather(ts, half_index[c], [0] * len(ts)), ts):
            assert torch.equal(got, t.index_select(0, half_index[c]))


@pytest.mark.parametrize("p", [1, 2])
def test_channel_norms_ours(compare, groups, p):
    compare(f"channel_norms resnet50 p={p}", "ours",
            lambda: [channel_norms(ts, [0] * len(ts), p) for ts in groups.values()])


@pytest.mark.parametrize("p", [1, 2])
def test_channel_norms_eager(compare, groups, p):
    def eager():
        out = []
        for c, ts in groups.items():
            rows = [t.reshape(c, -1) for t in ts]
            out.append(sum(r.abs().sum(1) if p == 1 else r.pow(2).sum(1).sqrt() for r in rows))
        return out

    compare(f"channel_norms resnet50 p={p}", "eager", eager)


@pytest.mark.parametrize("p", [1, 2])
def test_channel_norms_floor(compare, groups, p):
    compare(f"channel_norms resnet50 p={p}", "floor",
            lambda: [[t.sum() for t in ts] for ts in groups.values()])
