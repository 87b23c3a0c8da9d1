"""``fake_quantize``: affine fake quantization, per tensor or per channel, with a straight-through
gradient, bit-identical to ``torch.fake_quantize_per_tensor_affine`` / ``..._per_channel_affine``."""
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


def fake_quantize(
    x: Tensor,
    scale: Tensor | float,
    zero_point: Tensor | int,
    quant_min: int,
    quant_max: int,
    axis: int | None = None,
) -> Tensor:
    """Quantize ``x`` to the integer grid ``[quant_min, quant_max]`` and back to floats.

    ``q = nearbyint(x / scale) + zero_point`` (round half to even, as onnxruntime's
    QuantizeLinear), ``out = (clamp(q, quant_min, quant_max) - zero_point) * scale``. The values are
    those of torch's fake-quant ops to the bit (``x * (1.0f / scale)`` in float, scale used as
    float32). The gradient of ``x`` is straight-through inside the clamp range and 0 outside; the
    op keeps one byte per element (a bool mask) for it, and none when no gradient is needed.
    ``scale`` and ``zero_point`` get no gradient (see :func:`lsq_fake_quantize` for that).

    NaN and Inf in ``x`` behave as in torch: per tensor, NaN and -Inf give the ``quant_min``
    value and +Inf the ``quant_max`` value; per channel (torch casts ``q`` to int64 first) NaN,
    +-Inf and ``|q| >= 2^63`` all give the ``quant_min`` value. Their gradient is 0.

    Args:
        x: float32 or float64 tensor of any shape and layout (channels-last is kept).
        scale: a positive finite number or one-element tensor (per tensor), or a 1-D tensor of
            ``x.shape[axis]`` entries (per channel).
        zero_point: an int or one-element tensor, or a 1-D tensor per channel, in
            ``[quant_min, quant_max]``; floating values are rounded half to even first.
        quant_min, quant_max: the integer range, ``quant_min < quant_max``, both in
            ``[-2^24, 2^24]``.
        axis: the channel dim for per-channel quantization, or None for per tensor.

    Returns:
        A tensor shaped, typed and laid out like ``x``.

    Example:
        >>> x = torch.tensor([-1.0, 0.26, 0.74, 9.0])
        >>> fake_quantize(x, 0.5, 0, -128, 127)
        tensor([-1.0000,  0.5000,  0.5000,  9.0000])
        >>> w = torch.randn(8, 3, 3, 3)
        >>> fake_quantize(w, w.abs().amax((1, 2, 3)) / 127, torch.zeros(8, dtype=torch.int32),
        ...               -127, 127, axis=0).shape
        torch.Size([8, 3, 3, 3])
    """
    op = "fake_quantize"
    check_x(op, x)
    (x,) = float32_under_autocast(x)  # ATen's fake quant runs in float32 under autocast
    check_int(op, "quant_min", quant_min)
    check_int(op, "quant_max", quant_max)
    check_int(op, "axis", axis, optional=True)
    scale = as_qparam(op, "scale", scale, x, torch.float32)
    zero_point = as_qparam(op, "zero_point", zero_point, x, torch.int32)
    need_mask = torch.is_grad_enabled() and x.requires_grad
    out, _ = call_op(torch.ops.razor_ext.fake_quantize, x, scale, zero_point, quant_min, quant_max,
                     axis, need_mask)
    return out


@torch.library.register_fake("razor_ext::fake_quantize")
def _fake_quantize_fake(x, scale, zero_point, quant_min, quant_max, axis, need_mask):
    check_qparams_fake("fake_quantize", x, scale, zero_point, quant_min, quant_max, axis)
    base = dense_like(x)
    out = torch.empty_like(base)
    mask = torch.empty_like(base, dtype=torch.bool) if need_mask else x.new_empty((0,), dtype=torch.bool)
    return out, mask


@torch.library.register_fake("razor_ext::fake_quantize_backward")
def _fake_quantize_backward_fake(grad, mask):
    torch._check_value(grad.shape == mask.shape,
                       lambda: "fake_quantize_backward: grad does not match mask in shape")
    return torch.empty_like(dense_like(mask), dtype=grad.dtype)


def _setup_context(ctx, inputs, output) -> None:
    # The mask output never has a gradient; materializing one would write a zero tensor of
    # x's size on every backward (a third of the op's time).
    ctx.set_materialize_grads(False)
    ctx.need_mask = inputs[6]
    ctx.save_for_backward(output[1])


def _backward(ctx, grad: Tensor, _grad_mask: Tensor | None):
    grad_x = None
    if ctx.needs_input_grad[0] and grad is not None:
        if not ctx.need_mask:
            raise RuntimeError("fake_quantize: the op ran with need_mask=False, so it kept no "
                               "mask for the backward; call razor_ext.ops.fake_quantize instead")
        (mask,) = ctx.saved_tensors
        grad_x = torch.ops.razor_ext.fake_quantize_backward(grad, mask)
    return grad_x, None, None, None, None, None, None


torch.library.register_autograd("razor_ext::fake_quantize", _backward, setup_context=_setup_context)
