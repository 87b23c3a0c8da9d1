"""``channel_norms``: the Lp importance of a channel group coupled across many tensors."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from razor_ext.ops.arguments import as_int_list, as_tensor_list, check_one_device
from razor_ext.ops.below_autograd import call_op


def channel_norms(tensors: Sequence[Tensor], dims: Sequence[int], p: int = 1) -> Tensor:
    """Sum over tensors of the per-channel Lp norm, ``p`` in {1, 2}.

    ``out[c] = sum_i ||channel c of tensors[i] along dims[i]||_p``: the importance of channel ``c``
    of a group whose tensors are pruned together. One pass over every tensor, in parallel,
    accumulating in float64.

    Args:
        tensors: N >= 1 tensors of one floating dtype (float32, float64, bfloat16, float16) on one
            device; all have the same channel count ``C`` at their ``dims[i]``.
        dims: N non-negative channel dims.
        p: 1 (sum of absolute values) or 2 (Euclidean norm).

    Returns:
        ``(C,)`` tensor, float64 for float64 inputs else float32.

    Example:
        >>> conv_w, next_w = torch.randn(16, 3, 3, 3), torch.randn(32, 16, 1, 1)
        >>> channel_norms([conv_w, next_w], dims=[0, 1], p=2).shape
        torch.Size([16])
    """
    tensors = as_tensor_list("channel_norms", "tensors", tensors)
    dims = as_int_list("channel_norms", "dims", dims)
    if not tensors:
        # Checked here too: with no tensor argument the dispatcher cannot pick a device to run on.
        raise ValueError("channel_norms: tensors must hold at least one tensor")
    if isinstance(p, bool) or not isinstance(p, int):
        raise TypeError(f"channel_norms: p must be an int (1 or 2), got {type(p).__name__}")
    return call_op(torch.ops.razor_ext.channel_norms, tensors, dims, p)


def _output_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


@torch.library.register_fake("razor_ext::channel_norms")
def _channel_norms_fake(tensors: list[Tensor], dims: list[int], p: int) -> Tensor:
    torch._check(len(tensors) > 0, lambda: "channel_norms: tensors must hold at least one tensor")
    torch._check(len(tensors) == len(dims), lambda: "channel_norms: tensors and dims differ in length")
    torch._check(p in (1, 2), lambda: f"channel_norms: p must be 1 or 2, got {p}")
    check_one_device("channel_norms", tensors)
    first = tensors[0]
    return first.new_empty((first.shape[dims[0]],), dtype=_output_dtype(first.dtype))


def _setup_context(ctx, inputs, output) -> None:
    tensors, dims, p = inputs
    ctx.dims = list(dims)
    ctx.p = p
    ctx.save_for_backward(*tensors)


def _channel_view(values: Tensor, ndim: int, dim: int) -> Tensor:
    shape = [1] * ndim
    shape[dim] = values.shape[0]
    return values.reshape(shape)


def _backward(ctx, grad: Tensor):
    grads = []
    for t, dim in zip(ctx.saved_tensors, ctx.dims):
        g = _channel_view(grad, t.dim(), dim).to(t.dtype)
        if ctx.p == 1:
            grads.append(t.sign() * g)
            continue
        reduce_dims = [d for d in range(t.dim()) if d != dim]
        norm = t.pow(2).sum(reduce_dims, keepdim=True).sqrt() if reduce_dims else t.abs()
        # A channel of norm 0 gets gradient 0 (the subgradient torch.linalg.norm also picks).
        safe = torch.where(norm > 0, norm, torch.ones_like(norm))
        grads.append(torch.where(norm > 0, t / safe, torch.zeros_like(t)) * g)
    return grads, None, None


torch.library.register_autograd("razor_ext::channel_norms", _backward, setup_context=_setup_context)
