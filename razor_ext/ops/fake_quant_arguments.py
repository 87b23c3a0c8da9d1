"""Argument conversion shared by the fake-quant ops: friendly qparams (Python numbers or tensors)
into the tensors the op schemas take, and the type checks that must happen before dispatch.
Range, shape and value checks live in C++ (python/fake_quant_args.h) so every caller gets them;
the fake (meta) impls repeat the shape checks so that torch.compile reports the same errors."""
from __future__ import annotations

import torch
from torch import Tensor
from torch._prims_common import is_non_overlapping_and_dense_or_false


def check_x(op: str, x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{op}: x must be a floating tensor (float32 or float64), got {x.dtype}")


def check_int(op: str, name: str, value: object, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        kind = "an int or None" if optional else "an int"
        raise TypeError(f"{op}: {name} must be {kind}, got {type(value).__name__}")


def as_qparam(op: str, name: str, value: Tensor | float | int, x: Tensor, dtype: torch.dtype) -> Tensor:
    """A Python number becomes a one-element tensor on x's device; tensors pass as they are."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{op}: {name} must be a number or a tensor, got {type(value).__name__}")
    if isinstance(value, float) and not dtype.is_floating_point:
        dtype = torch.float32  # a float zero point is rounded by the op, not truncated here
    return torch.tensor([value], dtype=dtype, device=x.device)


def dense_like(x: Tensor) -> Tensor:
    """The tensor the kernels work on: x itself when dense in any dim order, else a contiguous
    copy (python/fake_quant_args.h, quant_input). Outputs take its strides."""
    return x if is_non_overlapping_and_dense_or_false(x) else x.contiguous()


def check_qparams_fake(op: str, x: Tensor, scale: Tensor, zero_point: Tensor, quant_min: int,
                       quant_max: int, axis: int | None) -> int | None:
    """The fake impls' shape checks (python/fake_quant_args.h); returns axis in [0, x.dim())."""
    torch._check_value(quant_min < quant_max,
                       lambda: f"{op}: quant_min must be less than quant_max, got quant_min="
                       f"{quant_min} and quant_max={quant_max}")
    if axis is not None:
        torch._check_index(-x.dim() <= axis < x.dim() and x.dim() > 0,
                           lambda: f"{op}: axis={axis} is out of range for x of shape {tuple(x.shape)}")
        axis = axis % x.dim()
    for name, t in (("scale", scale), ("zero_point", zero_point)):
        if axis is None:
            torch._check_value(t.numel() == 1, lambda: f"{op}: {name} must hold one element for "
                               "per-tensor quantization (axis=None)")
        else:
            torch._check_value(t.dim() == 1 and t.shape[0] == x.shape[axis],
                               lambda: f"{op}: {name} must be 1-D with x.shape[axis] entries")
    return axis
