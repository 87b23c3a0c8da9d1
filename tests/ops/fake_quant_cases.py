"""Inputs shared by the fake-quant op tests: the layouts a quantizer meets (NCHW activations,
channels-last activations, conv and linear weights, slices), odd and empty sizes, and qparams."""
from __future__ import annotations

import torch

RANGES = [(-128, 127), (0, 255), (-8, 7)]


def make_x(case: str, dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * 2).to(dtype)

    if case == "contiguous":
        return randn(2, 6, 5, 7)
    if case == "channels_last":
        return randn(2, 6, 5, 7).contiguous(memory_format=torch.channels_last)
    if case == "transposed":  # dense, dims permuted
        return randn(6, 7, 5).transpose(0, 2)
    if case == "sliced":  # not dense: copied by the op
        return randn(4, 6, 9, 8)[:, :, ::2, 1:7]
    if case == "odd":  # not a multiple of any vector width
        return randn(37)
    if case == "empty":
        return randn(0, 6, 3)
    if case == "large":  # above the single-thread threshold: runs on every thread
        return randn(4, 16, 40, 40)
    if case == "linear_weight":
        return randn(10, 13)
    raise ValueError(case)


CASES = ["contiguous", "channels_last", "transposed", "sliced", "odd", "empty", "large",
         "linear_weight"]


def channel_axes(x: torch.Tensor) -> list[int | None]:
    """Per-tensor, the first dim, the second (channels of an activation) and the last."""
    axes: list[int | None] = [None]
    if x.dim() >= 1:
        axes.append(0)
    if x.dim() >= 2:
        axes += [1, -1]
    return axes


def make_qparams(x: torch.Tensor, axis: int | None, quant_min: int, quant_max: int, seed: int = 1,
                 learnable: bool = False):
    """Scales spread around the data's range, zero points anywhere in the range."""
    g = torch.Generator().manual_seed(seed)
    n = 1 if axis is None else x.shape[axis]
    scale = torch.rand(n, generator=g) * 4.0 / (quant_max - quant_min) + 0.5 / (quant_max - quant_min)
    if learnable:
        zero_point = torch.rand(n, generator=g) * (quant_max - quant_min) + quant_min
    else:
        zero_point = torch.randint(quant_min, quant_max + 1, (n,), generator=g, dtype=torch.int32)
    return scale, zero_point


def torch_fake_quantize(x, scale, zero_point, quant_min, quant_max, axis):
    """torch's own op for the same call."""
    if axis is None:
        return torch.fake_quantize_per_tensor_affine(x, float(scale), int(zero_point), quant_min, quant_max)
    if x.shape[axis] == 0:  # torch's per-channel op fails on zero channels; the result is empty
        return x * 1
    return torch.fake_quantize_per_channel_affine(x, scale, zero_point, axis % x.dim(), quant_min, quant_max)


def torch_lsq(x, scale, zero_point, quant_min, quant_max, axis, grad_factor):
    if axis is None:
        return torch._fake_quantize_learnable_per_tensor_affine(x, scale, zero_point, quant_min,
                                                                 quant_max, grad_factor)
    return torch._fake_quantize_learnable_per_channel_affine(x, scale, zero_point, axis % x.dim(),
                                                             quant_min, quant_max, grad_factor)
