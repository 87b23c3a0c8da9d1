"""``fused_observe_fake_quantize``: the QAT step of a fake-quant module in one call: update the
moving-average min/max, recompute scale and zero point, fake-quantize."""
from __future__ import annotations

import torch
from torch import Tensor

from razor_ext.ops.arguments import float32_under_autocast
from razor_ext.ops.fake_quant_arguments import check_int, check_x
from razor_ext.ops.fake_quantize import fake_quantize


def fused_observe_fake_quantize(
    x: Tensor,
    running_min: Tensor,
    running_max: Tensor,
    scale: Tensor,
    zero_point: Tensor,
    quant_min: int,
    quant_max: int,
    axis: int | None = None,
    averaging_constant: float = 0.01,
    symmetric: bool = False,
    observe: bool = True,
    fake_quant: bool = True,
) -> Tensor:
    """Observe ``x`` into the running range, refresh ``scale`` / ``zero_point``, fake-quantize.

    The clean counterpart of ``torch.fused_moving_avg_obs_fake_quant``. With ``observe``:

    1. ``min_c, max_c`` = extremes of ``x`` (per tensor, or per channel along ``axis``);
    2. ``running_min``/``running_max``: taken as they are on the first observation (while they
       still hold +Inf / -Inf), else ``r += averaging_constant * (cur - r)`` (torch.ao's
       MovingAverage(PerChannel)MinMaxObserver);
    3. ``scale``/``zero_point`` from the running range as torch.ao's observers compute them, in
       float32: the range is widened to include 0; affine ``scale = (max - min) / (quant_max -
       quant_min)``, ``zero_point = clamp(quant_min - round(min / scale))``; symmetric ``scale =
       max(|min|, max) / ((quant_max - quant_min) / 2)``, ``zero_point = 0`` for signed ranges
       and ``(quant_min + quant_max + 1) // 2`` for unsigned ones; ``scale >= float32 eps``.

    The four state tensors are updated in place (the op's schema declares it, so this works under
    ``torch.compile``). With ``fake_quant`` the result is :func:`fake_quantize` with the new
    qparams (straight-through gradient for ``x``), otherwise ``x`` itself. The observation is one
    read pass over ``x`` and the fake quant another: the range must be known before the first
    element is quantized. An ``x`` holding NaN or Inf raises instead of corrupting the state.

    Args:
        x: float32 or float64 tensor.
        running_min, running_max, scale: float32 tensors of one element (per tensor) or
            ``x.shape[axis]`` elements (per channel). Start the running range at +Inf / -Inf.
        zero_point: int32, int64 or float32 tensor shaped like ``scale``.
        quant_min, quant_max: the integer range.
        axis: channel dim, or None for per tensor.
        averaging_constant: weight of the new observation, in (0, 1].
        symmetric: symmetric (zero point fixed) instead of affine qparams.
        observe: update the state from ``x`` (switch off to freeze the qparams).
        fake_quant: fake-quantize (switch off to observe only).

    Example:
        >>> running_min, running_max = torch.tensor([float("inf")]), torch.tensor([float("-inf")])
        >>> scale, zero_point = torch.ones(1), torch.zeros(1, dtype=torch.int32)
        >>> y = fused_observe_fake_quantize(torch.randn(4, 8), running_min, running_max, scale,
        ...                                 zero_point, 0, 255)
        >>> bool(scale > 0), int(zero_point) in range(256)
        (True, True)
    """
    op = "fused_observe_fake_quantize"
    check_x(op, x)
    (x,) = float32_under_autocast(x)  # ATen's fake quant runs in float32 under autocast
    check_int(op, "quant_min", quant_min)
    check_int(op, "quant_max", quant_max)
    check_int(op, "axis", axis, optional=True)
    for name, t in (("running_min", running_min), ("running_max", running_max), ("scale", scale),
                    ("zero_point", zero_point)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a torch.Tensor, got {type(t).__name__}")
    if observe:
        # Observation reads x only: no autograd graph is needed for it.
        torch.ops.razor_ext.observe_qparams_(x.detach(), running_min, running_max, scale,
                                             zero_point, quant_min, quant_max, axis,
                                             float(averaging_constant), bool(symmetric))
    if not fake_quant:
        return x
    return fake_quantize(x, scale, zero_point, quant_min, quant_max, axis)


@torch.library.register_fake("razor_ext::observe_qparams_")
def _observe_fake(x, running_min, running_max, scale, zero_point, quant_min, quant_max, axis,
                  averaging_constant, symmetric) -> None:
    op = "observe_qparams_"
    torch._check_value(quant_min < quant_max,
                       lambda: f"{op}: quant_min must be less than quant_max")
    channels = 1 if axis is None else x.shape[axis]
    for name, t in (("running_min", running_min), ("running_max", running_max), ("scale", scale),
                    ("zero_point", zero_point)):
        torch._check_value(t.numel() == channels, lambda: f"{op}: {name} must hold {channels} element(s)")
    return None
