"""FLOP formulas of razor_ext's own ops for torch's ``FlopCounterMode`` (which counts an op it
has no formula for as 0: a supernet of dynamic ops would look free)."""
from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import register_flop_formula

import razor_ext  # noqa: F401  (loads the ops)


@register_flop_formula(torch.ops.razor_ext.dynamic_conv2d)
def dynamic_conv2d_flops(x_shape: Any, w_shape: Any, _bias: Any, _out: Any, _stride: Any,
                         _padding: Any, _dilation: Any, groups: int, kernel_size: int | None,
                         *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """2 x multiply-adds of the active sub-conv: out elements x in-channels per group x k x k."""
    k = w_shape[-1] if kernel_size is None else kernel_size
    cin_per_group = x_shape[1] // groups
    n, cout, h, w = out_shape
    return 2 * n * cout * h * w * cin_per_group * k * k


@register_flop_formula(torch.ops.razor_ext.dynamic_linear)
def dynamic_linear_flops(x_shape: Any, _w_shape: Any, _bias: Any, _out: Any, *args: Any,
                         out_shape: Any = None, **kwargs: Any) -> int:
    """2 x multiply-adds: output elements x active in-features."""
    return 2 * x_shape[-1] * int(torch.Size(out_shape).numel())
