"""``dynamic_conv2d``: a supernet conv run on its active sub-weight, without a sliced weight copy."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from razor_ext.ops.arguments import as_int_pair, as_optional_int, check_float_tensors
from razor_ext.ops.dynamic_functorch import call_dynamic_op

_OP = "dynamic_conv2d"


def dynamic_conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                   out_channels: int | None = None, stride: int | Sequence[int] = 1,
                   padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
                   groups: int = 1, kernel_size: int | None = None) -> Tensor:
    """``F.conv2d(input, weight[:o, :i, crop, crop].contiguous(), bias[:o], stride, padding,
    dilation, groups)`` computed from the full ``weight`` in place.

    The active input channels are ``i = input.shape[1]``; the active output channels are
    ``o = out_channels`` (all rows when None); ``crop`` is the centred ``kernel_size`` window of the
    weight's kernel (OFA / BigNAS elastic kernel; the full kernel when None). ``padding`` is for the
    active kernel. ``groups`` is 1, or ``i`` for a depthwise conv, which uses ``weight[:i, :1]``.

    Small calls (at most 200 output pixels in the batch, or a 1x1 kernel) run as im2col + one GEMM
    for the batch that reads the weight sub-block through its row stride; larger ones hand a
    contiguous copy of the active block to ATen's conv.
    Gradients flow to ``input`` and to the FULL ``weight`` / ``bias``, zero outside the active
    block, as the slicing reference gives them.

    Args:
        input: ``(N, i, H, W)`` float tensor (float32/float64; bfloat16/float16 where ATen's conv
            supports them).
        weight: ``(O, I, K, K)`` full weight (``(O, 1, K, K)`` for depthwise), ``i <= I``.
        bias: ``(O,)`` full bias or None.
        out_channels: active output channels in ``[1, O]`` (depthwise: must be ``i``), or None.
        stride, padding, dilation: an int or 2 ints, as in ``F.conv2d``.
        groups: 1, or ``i`` (depthwise).
        kernel_size: odd active kernel ``<= K`` (K odd), or None for ``K``.

    Returns:
        ``(N, o, H_out, W_out)``.

    Example:
        >>> w = torch.randn(64, 32, 5, 5, requires_grad=True)
        >>> y = dynamic_conv2d(torch.randn(2, 16, 8, 8), w, out_channels=24, padding=1, kernel_size=3)
        >>> y.shape
        torch.Size([2, 24, 8, 8])
        >>> y.sum().backward(); w.grad.shape, bool(w.grad[24:].eq(0).all())
        (torch.Size([64, 32, 5, 5]), True)
    """
    args = _conv_args(input, weight, bias, out_channels, stride, padding, dilation, groups, kernel_size)
    return call_dynamic_op(torch.ops.razor_ext.dynamic_conv2d,
                           torch.ops.razor_ext.dynamic_conv2d_backward, *args, "auto")


def _conv_args(input, weight, bias, out_channels, stride, padding, dilation, groups, kernel_size):
    """Types converted (TypeError otherwise) and values checked (ValueError, as the C++ op)."""
    check_float_tensors(_OP, autocast=True, input=input, weight=weight, bias=bias)
    stride = as_int_pair(_OP, "stride", stride)
    padding = as_int_pair(_OP, "padding", padding)
    dilation = as_int_pair(_OP, "dilation", dilation)
    out_channels = as_optional_int(_OP, "out_channels", out_channels)
    kernel_size = as_optional_int(_OP, "kernel_size", kernel_size)
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"{_OP}: groups must be an int, got {type(groups).__name__}")
    # Shapes and ranges: checked by the C++ op (plan_conv) with the messages of output_shape,
    # which the fake impl runs for traced calls; checking twice here cost ~50 us a call.
    return input, weight, bias, out_channels, stride, padding, dilation, groups, kernel_size


def output_shape(input: Tensor, weight: Tensor, bias: Tensor | None, out_channels: int | None,
                 stride: list[int], padding: list[int], dilation: list[int], groups: int,
                 kernel_size: int | None) -> list[int]:
    """The checks of python/dynamic_ops.cpp (plan_conv), for the fake impl."""
    def check(cond, message) -> None:
        torch._check_value(cond, lambda: f"{_OP}: {message()}")

    check(input.dim() == 4, lambda: f"input must be 4-D (N, C, H, W), got {input.dim()}-D")
    check(weight.dim() == 4 and weight.shape[2] == weight.shape[3],
          lambda: f"weight must be 4-D (O, I/groups, K, K) with a square kernel, got shape "
          f"{tuple(weight.shape)}")
    full_out, full_in, full_k = weight.shape[0], weight.shape[1], weight.shape[2]
    channels = input.shape[1]
    check(channels >= 1, lambda: "input must have at least 1 channel")
    if bias is not None:
        check(bias.dim() == 1 and bias.shape[0] == full_out,
              lambda: f"bias must have shape ({full_out},) to match weight, got {tuple(bias.shape)}")
    if groups == 1:
        check(channels <= full_in, lambda: f"input has {channels} channels but weight has only "
              f"{full_in} input channels")
        out = full_out if out_channels is None else out_channels
    else:
        check(groups == channels, lambda: f"groups must be 1 or equal to input channels "
              f"({channels}, depthwise), got {groups}")
        check(full_in == 1, lambda: f"a depthwise call needs weight of shape (O, 1, K, K), got "
              f"{tuple(weight.shape)}")
        check(channels <= full_out, lambda: f"input has {channels} channels but depthwise weight "
              f"has only {full_out}")
        out = channels if out_channels is None else out_channels
        check(out == channels, lambda: f"depthwise out_channels must equal input channels "
              f"({channels}), got {out}")
    check(1 <= out <= full_out, lambda: f"out_channels must be in [1, {full_out}] (weight rows), "
          f"got {out}")
    k = full_k if kernel_size is None else kernel_size
    check(1 <= k <= full_k, lambda: f"kernel_size must be in [1, {full_k}] (weight's kernel), got {k}")
    check(k == full_k or (k % 2 == 1 and full_k % 2 == 1),
          lambda: f"a centre-cropped kernel_size must be odd, as the weight's kernel ({full_k}), "
          f"got {k}")
    for name, values, least in (("stride", stride, 1), ("padding", padding, 0),
                                ("dilation", dilation, 1)):
        check(len(values) == 2 and all(v >= least for v in values),
              lambda: f"{name} must be 2 values >= {least}, got {list(values)}")
    shape = [input.shape[0], out]
    for d in range(2):
        extent = dilation[d] * (k - 1) + 1
        padded = input.shape[2 + d] + 2 * padding[d]
        check(padded >= extent, lambda: f"input {tuple(input.shape)} padded by {list(padding)} is "
              f"smaller than the dilated kernel ({extent})")
        shape.append((padded - extent) // stride[d] + 1)
    return shape


@torch.library.register_fake("razor_ext::dynamic_conv2d")
def _dynamic_conv2d_fake(input, weight, bias, out_channels, stride, padding, dilation, groups,
                         kernel_size, algorithm):
    shape = output_shape(input, weight, bias, out_channels, stride, padding, dilation, groups,
                         kernel_size)
    kept_shape(input, weight, shape, stride, padding, groups, kernel_size, algorithm)  # its checks
    return input.new_empty(shape)


# python/dynamic_ops.cpp, kGemmMaxColumns: k x k calls with more output pixels take the conv path.
GEMM_MAX_COLUMNS = 200


def kept_shape(input: Tensor, weight: Tensor, out_shape: list[int], stride: list[int],
               padding: list[int], groups: int, kernel_size: int | None,
               algorithm: str) -> list[int]:
    """The shape of what ``_dynamic_conv2d_forward`` keeps for the backward, as python/
    dynamic_ops.cpp picks it (choose_path, kept_shape): the im2col columns ``(i*K*K, N*L)`` on
    the gemm path, the contiguous copy of the active weight ``(o, i, k, k)`` on the conv path
    where that weight is a strided view, else ``(0,)``."""
    full_in, full_k = weight.shape[1], weight.shape[2]
    channels = input.shape[1]
    k = full_k if kernel_size is None else kernel_size
    gemm_ok = groups == 1 and k == full_k and weight.is_contiguous()
    pointwise = full_k == 1 and list(stride) == [1, 1] and list(padding) == [0, 0]
    n, out, height, width = out_shape
    if algorithm == "gemm":
        torch._check_value(gemm_ok, lambda: "dynamic_conv2d: algorithm 'gemm' needs groups=1, "
                           "the full kernel and a contiguous weight")
        gemm = True
    else:
        torch._check_value(algorithm in ("auto", "conv"), lambda: "dynamic_conv2d: algorithm "
                           f"must be 'auto', 'gemm' or 'conv', got '{algorithm}'")
        gemm = (algorithm == "auto" and gemm_ok and channels != full_in
                and input.dtype in (torch.float32, torch.float64)
                and (pointwise or n * height * width <= GEMM_MAX_COLUMNS))
    if n == 0 or (gemm and pointwise):
        return [0]
    if gemm:
        return [channels * full_k * full_k, n * height * width]
    k0 = (full_k - k) // 2
    active = weight[:out, :channels if groups == 1 else 1, k0:k0 + k, k0:k0 + k]
    return [0] if active.is_contiguous() else list(active.shape)


@torch.library.register_fake("razor_ext::_dynamic_conv2d_forward")
def _dynamic_conv2d_forward_fake(input, weight, bias, out_channels, stride, padding, dilation,
                                 groups, kernel_size, algorithm):
    shape = output_shape(input, weight, bias, out_channels, stride, padding, dilation, groups,
                         kernel_size)
    kept = kept_shape(input, weight, shape, stride, padding, groups, kernel_size, algorithm)
    return input.new_empty(shape), input.new_empty(kept)


@torch.library.register_fake("razor_ext::dynamic_conv2d_backward")
def _dynamic_conv2d_backward_fake(grad_output, input, weight, out_channels, stride, padding,
                                  dilation, groups, kernel_size, algorithm, output_mask,
                                  saved=None):
    output_shape(input, weight, None, out_channels, stride, padding, dilation, groups, kernel_size)
    return backward_fakes(input, weight, output_mask)


def backward_fakes(input: Tensor, weight: Tensor, output_mask: list[bool]):
    """The (grad_input, grad_weight, grad_bias) a dynamic op's backward returns: full sizes where
    asked for, (0,) tensors otherwise."""
    def grad(wanted: bool, shape) -> Tensor:
        return input.new_empty(shape if wanted else (0,))

    return (grad(output_mask[0], input.shape), grad(output_mask[1], weight.shape),
            grad(output_mask[2], (weight.shape[0],)))
