"""``dynamic_linear``: a supernet linear layer run on its active sub-weight, without a copy."""
from __future__ import annotations

import torch
from torch import Tensor

from razor_ext.ops.arguments import as_optional_int, check_float_tensors
from razor_ext.ops.dynamic_conv import backward_fakes
from razor_ext.ops.dynamic_functorch import call_dynamic_op

_OP = "dynamic_linear"


def dynamic_linear(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                   out_features: int | None = None) -> Tensor:
    """``F.linear(input, weight[:o, :i], bias[:o])`` with ``i = input.shape[-1]``, reading the
    weight sub-block in place (BLAS takes it through its row stride).

    Gradients flow to ``input`` and to the FULL ``weight`` / ``bias``, zero outside the active
    block.

    Args:
        input: ``(..., i)`` float tensor.
        weight: ``(O, I)`` full weight, ``1 <= i <= I``.
        bias: ``(O,)`` full bias or None.
        out_features: active output features in ``[1, O]``, or None for ``O``.

    Returns:
        ``(..., o)``.

    Example:
        >>> w = torch.randn(64, 32)
        >>> dynamic_linear(torch.randn(5, 20), w, out_features=48).shape
        torch.Size([5, 48])
    """
    check_float_tensors(_OP, autocast=True, input=input, weight=weight, bias=bias)
    out_features = as_optional_int(_OP, "out_features", out_features)
    # Shapes and ranges: checked by the C++ op (plan_linear) with the messages of output_shape,
    # which the fake impl runs for traced calls.
    return call_dynamic_op(torch.ops.razor_ext.dynamic_linear,
                           torch.ops.razor_ext.dynamic_linear_backward, input, weight, bias,
                           out_features)


def output_shape(input: Tensor, weight: Tensor, bias: Tensor | None,
                 out_features: int | None) -> list[int]:
    """The checks of python/dynamic_ops.cpp (plan_linear), for the fake impl."""
    def check(cond, message) -> None:
        torch._check_value(cond, lambda: f"{_OP}: {message()}")

    check(input.dim() >= 1, lambda: "input must have at least 1 dim (..., in_features)")
    check(weight.dim() == 2, lambda: f"weight must be 2-D (out_features, in_features), got "
          f"{tuple(weight.shape)}")
    full_out, full_in = weight.shape
    features = input.shape[-1]
    check(1 <= features <= full_in, lambda: f"input has {features} features but weight has "
          f"in_features {full_in} (need 1..{full_in})")
    out = full_out if out_features is None else out_features
    check(1 <= out <= full_out, lambda: f"out_features must be in [1, {full_out}] (weight rows), "
          f"got {out}")
    if bias is not None:
        check(bias.dim() == 1 and bias.shape[0] == full_out,
              lambda: f"bias must have shape ({full_out},) to match weight, got {tuple(bias.shape)}")
    return [*input.shape[:-1], out]


@torch.library.register_fake("razor_ext::dynamic_linear")
def _dynamic_linear_fake(input, weight, bias, out_features):
    return input.new_empty(output_shape(input, weight, bias, out_features))


@torch.library.register_fake("razor_ext::dynamic_linear_backward")
def _dynamic_linear_backward_fake(grad_output, input, weight, out_features, output_mask):
    output_shape(input, weight, None, out_features)
    return backward_fakes(input, weight, output_mask)

