"""channel_gather and channel_norms over a ResNet-50 parameter set (267 float tensors, 25.6M
values), each against its eager loop and its memory floor, in one run.

Tensors are grouped by their dim-0 channel count, as pruning couples them; each group is one op
call. Gather takes half the channels of every tensor (a random sorted index per group).
Floors: for the gather, copying the same number of bytes into preallocated tensors ("floor") and
into freshly allocated ones ("alloc floor", the floor of any op that returns new tensors); for
the norms, a read-only ``sum()`` of every tensor.

Every benchmark runs on the CPU and, where torch has a CUDA device, on the GPU too; GPU roles end
with ``torch.cuda.synchronize()`` so that they time the work, not its launch.
"""
from __future__ import annotations

import collections
from collections.abc import Callable

import pytest
import torch

from razor_ext.architectures import resnet50
from razor_ext.ops import channel_gather, channel_norms

CUDA = pytest.param(
    "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"))


@pytest.fixture(scope="module", params=["cpu", CUDA])
def device(request) -> str:
    return request.param


Roles = dict[str, Callable[[], object]]


def synchronized(device: str, roles: Roles) -> Roles:
    """On a GPU, each role waits for its kernels, so a timing covers the work done."""
    if device == "cpu":
        return roles

    def wait_for(fn: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            result = fn()
            torch.cuda.synchronize()
            return result

        return run

    return {role: wait_for(fn) for role, fn in roles.items()}


def gather_group(device: str) -> str:
    return f"channel_gather resnet50 half ({device})"


def norms_group(device: str, p: int) -> str:
    return f"channel_norms resnet50 p={p} ({device})"


@pytest.fixture(scope="module")
def groups(device) -> dict[int, list[torch.Tensor]]:
    torch.manual_seed(0)
    tensors = [t.to(device) for t in resnet50().state_dict().values() if t.is_floating_point()]
    assert len(tensors) == 267 and sum(t.numel() for t in tensors) == 25_610_152
    by_channels: dict[int, list[torch.Tensor]] = collections.defaultdict(list)
    for t in tensors:
        by_channels[t.shape[0]].append(t)
    return dict(by_channels)


@pytest.fixture(scope="module")
def half_index(groups, device) -> dict[int, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {c: torch.randperm(c, generator=g)[: c // 2].sort().values.to(device) for c in groups}


@pytest.fixture(scope="module")
def gather_roles(groups, half_index, device) -> Roles:
    pairs = [(t[: c // 2], t.new_empty((c // 2, *t.shape[1:])))
             for c, ts in groups.items() for t in ts]

    def copy_into_preallocated() -> None:
        for src, dst in pairs:
            dst.copy_(src)

    return synchronized(device, {
        "ours": lambda: [channel_gather(ts, half_index[c], [0] * len(ts))
                         for c, ts in groups.items()],
        "eager": lambda: [[t.index_select(0, half_index[c]) for t in ts]
                          for c, ts in groups.items()],
        "floor": copy_into_preallocated,
        "alloc floor": lambda: [torch.empty_like(src).copy_(src) for src, _ in pairs],
    })


def norm_roles(groups, device: str, p: int) -> Roles:
    def eager() -> list[torch.Tensor]:
        out = []
        for c, ts in groups.items():
            rows = [t.reshape(c, -1) for t in ts]
            out.append(sum(r.abs().sum(1) if p == 1 else r.pow(2).sum(1).sqrt() for r in rows))
        return out

    return synchronized(device, {
        "ours": lambda: [channel_norms(ts, [0] * len(ts), p) for ts in groups.values()],
        "eager": eager,
        "floor": lambda: [[t.sum() for t in ts] for ts in groups.values()],
    })


@pytest.mark.parametrize("role", ["ours", "eager", "floor", "alloc floor"])
def test_channel_gather(compare, gather_roles, device, role):
    compare(gather_group(device), role, gather_roles[role])


def test_channel_gather_round_robin(paired, gather_roles, device):
    paired(gather_group(device), gather_roles)


def test_channel_gather_ours_is_exact(groups, half_index):
    # The benchmark measures what the tests prove: same result as the eager loop.
    for c, ts in groups.items():
        for got, t in zip(channel_gather(ts, half_index[c], [0] * len(ts)), ts):
            assert torch.equal(got, t.index_select(0, half_index[c]))


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("role", ["ours", "eager", "floor"])
def test_channel_norms(compare, groups, device, p, role):
    compare(norms_group(device, p), role, norm_roles(groups, device, p)[role])


@pytest.mark.parametrize("p", [1, 2])
def test_channel_norms_round_robin(paired, groups, device, p):
    paired(norms_group(device, p), norm_roles(groups, device, p))
