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
    if autograd_may_record(*args):
        return op(*args)
    # What the layer itself does when no input requires grad (torch/_library/autograd.py).
    with torch._C._AutoDispatchBelowAutograd():
        return op(*args)
