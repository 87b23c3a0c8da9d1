"""References of the channel op family: ``channel_gather`` and ``channel_norms``."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def channel_gather(tensors: Sequence[Tensor], index: Tensor, dims: Sequence[int]) -> list[Tensor]:
    """``[t.index_select(d, index) for t, d in zip(tensors, dims)]``."""
    return [t.index_select(d, index) for t, d in zip(tensors, dims)]


def channel_norms(tensors: Sequence[Tensor], dims: Sequence[int], p: int = 1) -> Tensor:
    """Sum over tensors of each channel's Lp norm along that tensor's channel dim.

    Computed in float64; returned as float64 for float64 inputs, else float32.
    """
    total = None
    for t, d in zip(tensors, dims):
        channels = t.shape[d]
        rows = t.detach().to(torch.float64).movedim(d, 0)
        rows = rows.reshape(channels, rows.numel() // channels if channels else 0)
        norm = rows.abs().sum(1) if p == 1 else rows.pow(2).sum(1).sqrt()
        total = norm if total is None else total + norm
    out_dtype = torch.float64 if tensors[0].dtype == torch.float64 else torch.float32
    return total.to(out_dtype)
