"""Calling an op straight to its kernel when autograd has nothing to record.

torch's ``register_autograd`` layer runs in Python. Each call through it carries the tensor lists
from C++ into Python and back three more times, at about 1 µs a tensor. When no input requires
grad the layer records nothing: it only redispatches below itself. For the ResNet-50 gather (267
tensors in 7 calls) that detour was 5-7% of the op's time. :func:`call_op` takes the same step
itself, before the dispatcher reaches the layer, whenever that is exactly what the layer would do.
"""
from __future__ import annotations

from typing import Any

import torch
from torch.autograd import forward_ad


def autograd_may_record(*args: Any) -> bool:
    """Whether the autograd layer could do more than redispatch for a call with ``args``.

    Tracing (``torch.compile``) and functorch transforms keep the full path: they see tensors
    this Python frame cannot inspect (fake tensors, grad-tracking wrappers)."""
    return (
        torch.compiler.is_compiling()
        or torch._C._are_functorch_transforms_active()
        or (torch.is_grad_enabled() and torch._C._any_requires_grad(*args))
    )


def call_op(op: torch._ops.OpOverloadPacket, *args: Any) -> Any:
    """``op(*args)``, skipping the Python autograd layer when it would only redispatch.

    Example:
        >>> x = torch.randn(4, 3)
        >>> call_op(torch.ops.razor_ext.channel_gather, [x], torch.tensor([1, 0]), [0])[0].shape
        torch.Size([2, 3])
    """
    if forward_ad._current_level >= 0 and _has_tangent(args):
        # torch's register_autograd layer does not refuse dual tensors: it drops their tangents.
        raise RuntimeError(f"{op._qualified_op_name}: forward-mode AD (dual tensors, "
                           "torch.autograd.forward_ad) is not supported")
    if autograd_may_record(*args):
        return op(*args)
    # What the layer itself does when no input requires grad (torch/_library/autograd.py).
    with torch._C._AutoDispatchBelowAutograd():
        return op(*args)


def _has_tangent(args: tuple[Any, ...]) -> bool:
    """Whether an argument (or a tensor in a list argument) is a dual tensor with a tangent."""
    for arg in args:
        for t in arg if isinstance(arg, (list, tuple)) else (arg,):
            if isinstance(t, torch.Tensor) and forward_ad.unpack_dual(t).tangent is not None:
                return True
    return False
