"""``channel_gather``: physically select channels of many tensors by one index, in one call."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from razor_ext.ops.arguments import as_index, as_int_list, as_tensor_list, check_one_device
from razor_ext.ops.below_autograd import call_op


def channel_gather(
    tensors: Sequence[Tensor], index: Tensor | Sequence[int], dims: Sequence[int]
) -> list[Tensor]:
    """Return ``tensors[i].index_select(dims[i], index)`` for every ``i``, in one parallel call.

    This is how a pruned channel group is cut out of all the tensors it couples (a conv's weight
    and bias along dim 0, its BN's weight/bias/running stats, the next conv's weight along dim 1).
    Gradients flow back as a scatter into zeros of each input's shape.

    Args:
        tensors: N tensors of any dtype, on one device; shapes ``(..., C_i, ...)`` with ``C_i`` at
            ``dims[i]``.
        index: ``(K,)`` int64 channel indices (an int32 tensor or a sequence of ints is converted);
            every entry must be in ``[0, C_i)`` for every ``i``. Duplicates are allowed.
        dims: N non-negative channel dims, one per tensor.

    Returns:
        N contiguous tensors; output ``i`` has the shape of ``tensors[i]`` with ``K`` at ``dims[i]``.

    Example:
        >>> conv_w, bn_w = torch.randn(8, 3, 3, 3), torch.randn(8)
        >>> keep = torch.tensor([0, 2, 5])
        >>> w, b = channel_gather([conv_w, bn_w], keep, dims=[0, 0])
        >>> w.shape, b.shape
        (torch.Size([3, 3, 3, 3]), torch.Size([3]))
    """
    tensors = as_tensor_list("channel_gather", "tensors", tensors)
    dims = as_int_list("channel_gather", "dims", dims)
    device = tensors[0].device if tensors else None
    index = as_index("channel_gather", index, device)
    return call_op(torch.ops.razor_ext.channel_gather, tensors, index, dims)


@torch.library.register_fake("razor_ext::channel_gather")
def _channel_gather_fake(tensors: list[Tensor], index: Tensor, dims: list[int]) -> list[Tensor]:
    torch._check(len(tensors) == len(dims), lambda: "channel_gather: tensors and dims differ in length")
    check_one_device("channel_gather", tensors, index)
    outputs = []
    for i, (t, d) in enumerate(zip(tensors, dims)):
        torch._check(0 <= d < t.dim(), lambda: f"channel_gather: dims[{i}] = {d} is invalid")
        shape = list(t.shape)
        shape[d] = index.shape[0]
        outputs.append(t.new_empty(shape))
    return outputs


def _setup_context(ctx, inputs, output) -> None:
    tensors, index, dims = inputs
    ctx.shapes = [t.shape for t in tensors]
    ctx.dims = list(dims)
    ctx.save_for_backward(index)


def _backward(ctx, grads: list[Tensor | None]):
    (index,) = ctx.saved_tensors
    grad_inputs = []
    for shape, dim, grad in zip(ctx.shapes, ctx.dims, grads):
        if grad is None:
            grad_inputs.append(None)
            continue
        # index_add, not index_copy: a channel listed twice receives both gradients.
        grad_inputs.append(grad.new_zeros(shape).index_add(dim, index, grad))
    return grad_inputs, None, None


torch.library.register_autograd(
    "razor_ext::channel_gather", _backward, setup_context=_setup_context
)
