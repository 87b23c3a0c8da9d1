"""Pure-PyTorch references of the fake-quant ops, written from their definitions (see
docs/quantization_kernels.md): straight-through rounding by ``x + (round(x) - x).detach()``, the
LSQ gradients by autograd through that, torch.ao's observer formulas."""
from __future__ import annotations

import torch
from torch import Tensor

# 2^63: torch's per-channel kernel casts q to int64; NaN, Inf and |q| beyond this become INT64_MIN.
_INT64_LIMIT = 9223372036854775808.0


def _channel_view(t: Tensor, x: Tensor, axis: int | None) -> Tensor:
    if axis is None:
        return t.reshape(())
    shape = [1] * x.dim()
    shape[axis] = -1
    return t.reshape(shape)


def _as_tensor(value, dtype: torch.dtype, x: Tensor) -> Tensor:
    return value if isinstance(value, Tensor) else torch.tensor([value], dtype=dtype, device=x.device)


def _clamp_q(q: Tensor, quant_min: int, quant_max: int, per_channel: bool) -> Tensor:
    keep = q >= quant_min
    if per_channel:
        keep = keep & (q < _INT64_LIMIT)
    c = torch.where(keep, q, torch.full_like(q, quant_min))
    return torch.where(c <= quant_max, c, torch.full_like(q, quant_max))


def fake_quantize(x: Tensor, scale, zero_point, quant_min: int, quant_max: int,
                  axis: int | None = None) -> Tensor:
    """torch's fake quantization, computed the way torch's CPU kernel does (float32 scale,
    ``x * (1 / scale)``, round half to even); straight-through gradient for ``x``."""
    if axis is not None:
        axis %= x.dim()
    per_channel = axis is not None
    scale32 = _channel_view(_as_tensor(scale, torch.float32, x).detach().float(), x, axis)
    zp = _channel_view(_as_tensor(zero_point, torch.int32, x).detach().double().round(), x, axis)
    xd = x.detach()
    inv = (1.0 / scale32).to(xd.dtype)
    q = torch.round(xd * inv) + zp.to(xd.dtype)
    c = _clamp_q(q, quant_min, quant_max, per_channel)
    if xd.dtype == torch.float64 and not per_channel:
        # torch's per-tensor kernel multiplies by a float scale in float.
        out = ((c - zp).float() * scale32).double()
    else:
        out = ((c - zp.to(xd.dtype)) * scale32.to(xd.dtype)).to(xd.dtype)
    inside = (q >= quant_min) & (q <= quant_max)
    return out + torch.where(inside, x - xd, torch.zeros_like(xd))


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``factor`` (LSQ's grad_factor)."""

    @staticmethod
    def forward(ctx, t: Tensor, factor: float) -> Tensor:
        ctx.factor = factor
        return t.view_as(t)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad * ctx.factor, None


def _round_ste(t: Tensor) -> Tensor:
    return t + (torch.round(t) - t).detach()


def lsq_fake_quantize(x: Tensor, scale: Tensor, zero_point: Tensor, quant_min: int, quant_max: int,
                      axis: int | None = None, grad_factor: float = 1.0) -> Tensor:
    """LSQ / LSQ+: the values of :func:`fake_quantize` with the zero point rounded and clamped
    (float32 x: torch's float32 arithmetic; float64 x: double throughout), and the gradients of a
    surrogate with straight-through rounding: inside the range ``(round_ste(x / s) + z - z) * s``
    (dx = 1, ds = round(x / s) - x / s, dz = 0), outside ``(bound - z) * s`` (dx = 0,
    ds = bound - z, dz = -s); ds and dz scaled by ``grad_factor``. As in torch, the per-tensor
    backward rounds the zero point as ``trunc(z + 0.5)`` (not half to even, and not as the
    forward does for negative zero points)."""
    if axis is not None:
        axis %= x.dim()
    per_channel = axis is not None
    dtype = x.dtype
    s = _channel_view(_ScaleGrad.apply(scale.to(dtype), grad_factor), x, axis)
    z = _channel_view(_ScaleGrad.apply(zero_point.to(dtype), grad_factor), x, axis)
    z_int = z + (torch.round(z.detach()).clamp(quant_min, quant_max) - z).detach()
    xd, sd, zd = x.detach(), s.detach(), z_int.detach()
    if dtype == torch.float64:
        q = torch.round(xd * (1.0 / sd)) + zd
        forward = (_clamp_q(q, quant_min, quant_max, per_channel) - zd) * sd
    else:
        forward = fake_quantize(xd, sd.float().reshape(-1), zd.reshape(-1), quant_min, quant_max, axis)
    if not per_channel:
        # torch's per-tensor backward takes its zero point as trunc(clamp(z + 0.5)).
        z_back = torch.trunc((z.detach() + 0.5).clamp(quant_min, quant_max))
        z_int = z + (z_back - z).detach()
        zd = z_back
    q = torch.round(zd + xd * (1.0 / sd))
    inside = (q >= quant_min) & (q <= quant_max)
    above = (q > quant_max) & (q < _INT64_LIMIT)
    bound = torch.where(above, torch.full_like(xd, float(quant_max)), torch.full_like(xd, float(quant_min)))
    # x enters only through (x - xd): its gradient is exactly 1, not (1 / s) * s rounded.
    value_in = (x - xd) + (_round_ste(xd / s) + z_int - z_int) * s
    value_out = (bound - z_int) * s
    surrogate = torch.where(inside, value_in, value_out)
    return forward + (surrogate - surrogate.detach())


def observe_qparams(x: Tensor, running_min: Tensor, running_max: Tensor, quant_min: int,
                    quant_max: int, axis: int | None = None, averaging_constant: float = 0.01,
                    symmetric: bool = False) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """New (running_min, running_max, scale, zero_point) after observing x, as torch.ao's
    MovingAverage(PerChannel)MinMaxObserver and ``_calculate_qparams`` compute them (float32)."""
    xd = x.detach().float()
    if axis is None:
        cur_min, cur_max = xd.min().reshape(1), xd.max().reshape(1)
    else:
        flat = xd.movedim(axis, 0).reshape(x.shape[axis], -1)
        cur_min, cur_max = flat.min(1).values, flat.max(1).values
    old_min, old_max = running_min.reshape(-1).float(), running_max.reshape(-1).float()
    fresh = torch.isposinf(old_min) & torch.isneginf(old_max)
    new_min = torch.where(fresh, cur_min, old_min + averaging_constant * (cur_min - old_min))
    new_max = torch.where(fresh, cur_max, old_max + averaging_constant * (cur_max - old_max))
    min_neg = torch.clamp(new_min, max=0.0)
    max_pos = torch.clamp(new_max, min=0.0)
    eps = torch.finfo(torch.float32).eps
    if symmetric:
        max_pos = torch.maximum(-min_neg, max_pos)
        scale = torch.clamp(max_pos / ((quant_max - quant_min) / 2), min=eps)
        zp_value = 0 if quant_min < 0 else (quant_min + quant_max + 1) // 2
        zero_point = torch.full_like(scale, float(zp_value))
    else:
        scale = torch.clamp((max_pos - min_neg) / float(quant_max - quant_min), min=eps)
        zero_point = (quant_min - torch.round(min_neg / scale)).clamp(quant_min, quant_max)
    return new_min, new_max, scale, zero_point
