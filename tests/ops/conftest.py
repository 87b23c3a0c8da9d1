"""Tensor sets shared by the op tests: the shapes a pruning pass meets (conv weights split at
dim 0 and dim 1, 1-D BN parameters, linear weights at their last dim) plus odd sizes."""
from __future__ import annotations

import pytest
import torch


def coupled_group(channels: int, dtype: torch.dtype = torch.float32, seed: int = 0):
    """A channel group as pruning sees it: (tensors, dims) sharing ``channels`` at each dim."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)

    tensors = [
        rand(channels, 3, 3, 3),  # conv weight, output channels
        rand(channels),  # conv bias / BN weight
        rand(5, channels, 3, 3),  # next conv weight, input channels
        rand(7, channels),  # linear weight, last dim
        rand(2, 3, channels, 5),  # channel dim in the middle
        rand(channels, 1),  # one element per row
    ]
    dims = [0, 0, 1, 1, 2, 0]
    return tensors, dims


@pytest.fixture
def group():
    return coupled_group(11)


def mixed_size_group(channels: int = 256, seed: int = 0):
    """Big conv weights among many 1-D vectors, as a ResNet stage couples them: over the 512 KiB
    below which the CPU impls stay on one thread, with bytes far from even across tensors."""
    g = torch.Generator().manual_seed(seed)
    tensors = [torch.randn(channels, 64, 3, 3, generator=g)]
    tensors += [torch.randn(channels, generator=g) for _ in range(20)]
    tensors += [torch.randn(channels, 512, generator=g), torch.randn(9, channels, 5)]
    return tensors, [0] * 22 + [1]


@pytest.fixture
def thread_count():
    """Sets torch's intra-op thread count for one test, then restores it."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)
