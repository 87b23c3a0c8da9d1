"""The dynamic ops under ``torch.func`` transforms (``grad``, ``vjp``, ``jacrev``, ``vmap``).

Their autograd is a C++ node (python/dynamic_autograd.cpp: a Python layer cost ~75 us a call
each way), and torch.func refuses C++ autograd nodes. Under a transform the call takes this
Python ``autograd.Function`` instead, over the same forward and backward ops: one gradient
level (a second one, ``grad(grad(f))``, raises rather than returning a wrong zero; so does
forward mode, ``jvp`` / ``jacfwd``), and a generated vmap rule.
"""
from __future__ import annotations

from typing import Any

import torch
from torch._C._functorch import TransformType
from torch._functorch.pyfunctorch import retrieve_all_functorch_interpreters
from torch.autograd.function import once_differentiable

from razor_ext.ops.below_autograd import call_op


class _DynamicOp(torch.autograd.Function):
    """``op(input, weight, bias, *options)`` with ``backward_op(grad_output, input, weight,
    *options, output_mask)`` as its backward."""

    generate_vmap_rule = True

    @staticmethod
    def forward(op, backward_op, input, weight, bias, *options):
        return op(input, weight, bias, *options)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        _, backward_op, input, weight, bias, *options = inputs
        ctx.backward_op = backward_op
        ctx.options = options
        ctx.has_bias = bias is not None
        ctx.save_for_backward(input, weight)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        input, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        mask = [need[2], need[3], ctx.has_bias and need[4]]
        grads = ctx.backward_op(grad_output, input, weight, *ctx.options, mask)
        return ((None, None) + tuple(g if m else None for g, m in zip(grads, mask))
                + (None,) * len(ctx.options))


def call_dynamic_op(op: torch._ops.OpOverloadPacket, backward_op: torch._ops.OpOverloadPacket,
                    *args: Any) -> torch.Tensor:
    """``op(*args)``: through :class:`_DynamicOp` under a torch.func transform, else by
    :func:`~razor_ext.ops.below_autograd.call_op`.

    Example:
        >>> w, x = torch.randn(6, 8), torch.randn(3, 5)
        >>> g = torch.func.grad(lambda w: call_dynamic_op(
        ...     torch.ops.razor_ext.dynamic_linear, torch.ops.razor_ext.dynamic_linear_backward,
        ...     x, w, None, 4).sum())(w)
        >>> g.shape, bool(g[4:].eq(0).all())
        (torch.Size([6, 8]), True)
    """
    if torch._C._are_functorch_transforms_active():
        levels = [i.key() for i in retrieve_all_functorch_interpreters()]
        if levels.count(TransformType.Grad) > 1:
            # The inner gradient would be a constant to the outer transform: a silent zero.
            raise RuntimeError(f"{op._qualified_op_name}: nested torch.func gradients (e.g. "
                               "grad(grad(f))) are not supported; one level of grad / vjp / "
                               "jacrev, with vmap around it, is")
        return _DynamicOp.apply(op, backward_op, *args)
    return call_op(op, *args)
