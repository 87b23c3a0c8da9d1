"""The only two fake-quant computations of razor_ext's Python layer.

Every observer, fake quant and exporter calls :func:`fake_quantize` or :func:`lsq_fake_quantize`;
nothing else calls torch's fake-quant ops. They run on razor_ext's kernels
(:func:`razor_ext.ops.fake_quantize`, :func:`razor_ext.ops.lsq_fake_quantize`), which match
torch's ops bit for bit.

During ``torch.onnx.export`` both take an export form that onnxruntime runs as
QuantizeLinear/DequantizeLinear: torch's exporters only map the ranges (-128, 127) and (0, 255)
(see NOTES.md), so a narrower range (4-bit, or TensorRT's -127..127) is exported as a clamp to
the representable interval followed by QDQ over the wide range, which gives the same values.
"""
from __future__ import annotations

import torch
from torch import Tensor

from razor_ext import ops

__all__ = ['fake_quantize', 'lsq_fake_quantize']


def _check_range(quant_min: int, quant_max: int) -> None:
    if not quant_min < quant_max:
        raise ValueError(f'quant_min must be < quant_max, got quant_min={quant_min}, '
                         f'quant_max={quant_max}')


def _as_tensor(value: Tensor | float | int, like: Tensor, dtype: torch.dtype) -> Tensor:
    if isinstance(value, Tensor):
        return value.to(device=like.device, dtype=dtype).reshape(-1)
    return torch.tensor([value], device=like.device, dtype=dtype)


def _export_range(quant_min: int, quant_max: int) -> tuple[int, int]:
    """The exportable ONNX int8/uint8 range holding [quant_min, quant_max]."""
    if quant_min >= 0 and quant_max <= 255:
        return 0, 255
    if quant_min >= -128 and quant_max <= 127:
        return -128, 127
    raise ValueError(f'[{quant_min}, {quant_max}] does not fit int8 or uint8: cannot export as '
                     f'QuantizeLinear/DequantizeLinear')


def _export_form(x: Tensor, scale: Tensor, zero_point: Tensor, quant_min: int, quant_max: int,
                 axis: int | None) -> Tensor:
    lo_q, hi_q = _export_range(quant_min, quant_max)
    zp = zero_point.detach().round().clamp(quant_min, quant_max)
    scale = scale.detach().float()
    if (quant_min, quant_max) != (lo_q, hi_q):
        low, high = scale * (quant_min - zp), scale * (quant_max - zp)
        if axis is None:
            x = torch.clamp(x, float(low[0]), float(high[0]))
        else:
            shape = [1] * x.dim()
            shape[axis] = -1
            x = torch.maximum(torch.minimum(x, high.view(shape).to(x.dtype)), low.view(shape).to(x.dtype))
    if axis is None:
        return torch.fake_quantize_per_tensor_affine(x, float(scale[0]), int(zp[0]), lo_q, hi_q)
    return torch.fake_quantize_per_channel_affine(x, scale, zp.to(torch.int32), axis, lo_q, hi_q)


def fake_quantize(x: Tensor, scale: Tensor | float, zero_point: Tensor | int, quant_min: int,
                  quant_max: int, axis: int | None = None) -> Tensor:
    """Affine fake quantization ``(clamp(round(x / s) + z, qmin, qmax) - z) * s``.

    Round half to even; the gradient is straight-through inside the clamp range, 0 outside.

    Args:
        x: float tensor of any shape.
        scale: per-tensor (``axis=None``: float or one-element tensor) or ``(x.shape[axis],)``.
        zero_point: like ``scale`` (integers).
        quant_min, quant_max: the integer range.
        axis: the channel dim for per-channel quantization.

    Returns:
        tensor shaped like ``x``.

    Example:
        >>> fake_quantize(torch.tensor([0.26, -3.0, 9.0]), 0.5, 0, -4, 3).tolist()
        [0.5, -2.0, 1.5]
    """
    _check_range(quant_min, quant_max)
    scale_t = _as_tensor(scale, x, torch.float32)
    zp_t = _as_tensor(zero_point, x, torch.int32)
    if torch.onnx.is_in_onnx_export():
        return _export_form(x, scale_t, zp_t, quant_min, quant_max, axis)
    if axis is None:
        return ops.fake_quantize(x, scale_t[:1], zp_t[:1], quant_min, quant_max)
    return ops.fake_quantize(x, scale_t, zp_t, quant_min, quant_max, axis % x.dim())


def lsq_fake_quantize(x: Tensor, scale: Tensor, zero_point: Tensor, quant_min: int, quant_max: int,
                      axis: int | None = None, grad_factor: float = 1.0) -> Tensor:
    """Fake quantization with learnable ``scale`` and ``zero_point`` (LSQ / LSQ+).

    Values as :func:`fake_quantize` (``zero_point`` is rounded and clamped); gradients of ``x``,
    ``scale`` and ``zero_point`` as torch's ``_fake_quantize_learnable_*`` ops, the scale and
    zero-point gradients multiplied by ``grad_factor``.

    Args:
        x: float tensor.
        scale, zero_point: float tensors, ``(1,)`` or ``(x.shape[axis],)``.
        quant_min, quant_max: the integer range.
        axis: channel dim, or None for per-tensor.
        grad_factor: LSQ's gradient scale, e.g. ``1 / sqrt(x.numel() * quant_max)``.

    Example:
        >>> s = torch.tensor([0.5], requires_grad=True)
        >>> y = lsq_fake_quantize(torch.tensor([0.26, 9.0]), s, torch.zeros(1), -4, 3)
        >>> y.sum().backward(); y.tolist(), round(s.grad.item(), 4)
        ([0.5, 1.5], 3.48)
    """
    _check_range(quant_min, quant_max)
    if torch.onnx.is_in_onnx_export():
        return _export_form(x, scale.reshape(-1), zero_point.reshape(-1), quant_min, quant_max, axis)
    if axis is None:
        return ops.lsq_fake_quantize(x, scale.reshape(1), zero_point.reshape(1).to(scale.dtype),
                                     quant_min, quant_max, grad_factor=grad_factor)
    return ops.lsq_fake_quantize(x, scale, zero_point.to(scale.dtype), quant_min, quant_max,
                                 axis % x.dim(), grad_factor)
