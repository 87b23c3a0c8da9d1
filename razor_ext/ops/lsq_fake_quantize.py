"""``lsq_fake_quantize``: fake quantization with a learnable scale and zero point (LSQ / LSQ+),
matching ``torch._fake_quantize_learnable_per_tensor_affine`` / ``..._per_channel_affine``."""
from __future__ import annotations

import torch
from torch import Tensor

from razor_ext.ops.arguments import float32_under_autocast
from razor_ext.ops.below_autograd import call_op
from razor_ext.ops.fake_quant_arguments import (
                                                as_qparam,
                                                check_int,
                                                check_qparams_fake,
                                                check_x,
                                                dense_like,
                                                )


def lsq_fake_quantize(
    x: Tensor,
    scale: Tensor,
    zero_point: Tensor,
    quant_min: int,
    quant_max: int,
    axis: int | None = None,
    grad_factor: float = 1.0,
) -> Tensor:
    """Fake quantization whose ``scale`` and ``zero_point`` receive gradients (LSQ, LSQ+).

    Forward: :func:`fake_quantize` with ``zero_point`` rounded half to even and clamped to
    ``[quant_min, quant_max]``. Backward (Esser et al., LSQ; Bhalgat et al., LSQ+), with
    ``q = nearbyint(zero_point + x / scale)`` and ``g`` the output gradient:

    - ``x``: ``g`` inside the clamp range, 0 outside;
    - ``scale``: ``g * (out - x) / scale`` inside, ``g * (quant_min|max - zero_point)`` outside;
    - ``zero_point``: 0 inside, ``-g * scale`` outside;

    the last two summed per tensor or per channel and multiplied by ``grad_factor`` (LSQ uses
    ``1 / sqrt(x.numel() * quant_max)``). The sums are reduced inside the kernel: no full-size
    temporaries. For float32 every per-element term equals torch's, so values and ``x``'s gradient
    match it to the bit and the sums to float rounding; float64 (which torch's learnable ops do not
    support) computes in double throughout. NaN/Inf in ``x`` act as in :func:`fake_quantize`
    forward; backward counts them below ``quant_min``, as torch does.

    Args:
        x: float32 or float64 tensor.
        scale: positive finite one-element tensor (per tensor) or 1-D tensor of ``x.shape[axis]``
            entries (per channel), usually a ``nn.Parameter``.
        zero_point: floating tensor shaped like ``scale`` (a learnable zero point may leave the
            range while training; it is clamped, as torch clamps it).
        quant_min, quant_max: the integer range.
        axis: channel dim, or None for per tensor.
        grad_factor: multiplies the scale and zero-point gradients.

    Returns:
        A tensor shaped, typed and laid out like ``x``.

    Example:
        >>> x = torch.randn(4, 8, requires_grad=True)
        >>> scale = torch.tensor([0.1], requires_grad=True)
        >>> zero_point = torch.tensor([0.0], requires_grad=True)
        >>> lsq_fake_quantize(x, scale, zero_point, -128, 127).sum().backward()
        >>> scale.grad.shape, zero_point.grad.shape
        (torch.Size([1]), torch.Size([1]))
    """
    op = "lsq_fake_quantize"
    check_x(op, x)
    (x,) = float32_under_autocast(x)  # ATen's fake quant runs in float32 under autocast
    check_int(op, "quant_min", quant_min)
    check_int(op, "quant_max", quant_max)
    check_int(op, "axis", axis, optional=True)
    if isinstance(grad_factor, bool) or not isinstance(grad_factor, (int, float)):
        raise TypeError(f"{op}: grad_factor must be a float, got {type(grad_factor).__name__}")
    scale = as_qparam(op, "scale", scale, x, torch.float32)
    zero_point = as_qparam(op, "zero_point", zero_point, x, torch.float32)
    return call_op(torch.ops.razor_ext.lsq_fake_quantize, x, scale, zero_point, quant_min,
                   quant_max, axis, float(grad_factor))


@torch.library.register_fake("razor_ext::lsq_fake_quantize")
def _lsq_fake(x, scale, zero_point, quant_min, quant_max, axis, grad_factor):
    check_qparams_fake("lsq_fake_quantize", x, scale, zero_point, quant_min, quant_max, axis)
    return torch.empty_like(dense_like(x))


@torch.library.register_fake("razor_ext::lsq_fake_quantize_backward")
def _lsq_backward_fake(grad, x, scale, zero_point, quant_min, quant_max, axis, grad_factor):
    check_qparams_fake("lsq_fake_quantize_backward", x, scale, zero_point, quant_min, quant_max, axis)
    return torch.empty_like(dense_like(x)), torch.empty_like(scale), torch.empty_like(zero_point)


def _setup_context(ctx, inputs, output) -> None:
    x, scale, zero_point, quant_min, quant_max, axis, grad_factor = inputs
    ctx.args = (quant_min, quant_max, axis, grad_factor)
    ctx.save_for_backward(x, scale, zero_point)


def _backward(ctx, grad: Tensor):
    x, scale, zero_point = ctx.saved_tensors
    grad_x, grad_scale, grad_zero_point = torch.ops.razor_ext.lsq_fake_quantize_backward(
        grad, x, scale, zero_point, *ctx.args)
    needs = ctx.needs_input_grad
    return (grad_x if needs[0] else None, grad_scale if needs[1] else None,
            grad_zero_point if needs[2] else None, None, None, None, None)


torch.library.register_autograd("razor_ext::lsq_fake_quantize", _backward, setup_context=_setup_context)
