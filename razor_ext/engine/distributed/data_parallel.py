"""One data-parallel scheme for every algorithm: gradients are averaged across ranks when an
optimizer steps, not inside ``backward``.

Why not ``DistributedDataParallel``: DDP ties one all-reduce to one ``forward``/``backward`` pair
of the wrapped module. Algorithms here run several forwards per step (the sandwich rule of
BigNAS/AutoSlim accumulates four subnets' gradients, DARTS takes second-order gradients with
``autograd.grad``, DAFL steps a generator and a student in turn), so DDP would need a wrapper per
algorithm (MMRazor's way) or ``no_sync`` gymnastics. Averaging at ``optimizer.step()`` (Horovod's
``DistributedOptimizer``) is correct for all of them at once: whatever gradients a step
accumulated, in however many passes, are averaged right before they are applied. Parameters that
the sampled subnet did not use have no gradient on any rank and stay ``None`` (no
``find_unused_parameters`` search over the graph). A frozen teacher has no parameter in any
optimizer, so it is neither wrapped nor all-reduced. The price is no overlap of communication with
``backward``; one flat all-reduce per optimizer step keeps the message count at one.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from razor_ext.engine.distributed.launch import get_dist_info


def _params_of(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    seen: set[int] = set()
    params = []
    for group in optimizer.param_groups:
        for p in group['params']:
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params


def average_tensors(tensors: Sequence[torch.Tensor | None],
                    like: Sequence[torch.Tensor]) -> list[torch.Tensor | None]:
    """The mean over all ranks of each tensor, in one flat all-reduce per (device, dtype).

    ``None`` means "no gradient on this rank": it counts as zeros in the mean, and the result
    stays ``None`` only where it is ``None`` on every rank (e.g. a parameter that no rank's
    sampled subnet used). ``like[i]`` gives the shape, device and dtype of ``tensors[i]``
    (the parameter it is the gradient of); every rank passes the same shapes in the same
    order. Outside a process group the tensors come back unchanged.

    This is the one reduction of the data-parallel scheme: :func:`average_gradients` applies it
    to ``.grad`` before every optimizer step, and :class:`DataParallelContext` hands it to
    algorithms that use gradients outside an optimizer step (DARTS' unrolled virtual step).

    Args:
        tensors: ``n`` gradients of any shapes, or ``None``.
        like: ``n`` tensors of the same shapes (the parameters).

    Example:
        >>> w = torch.zeros(2)
        >>> average_tensors([torch.ones(2)], [w])   # a single process: unchanged
        [tensor([1., 1.])]
    """
    if len(tensors) != len(like):
        raise ValueError(f'average_tensors: {len(tensors)} tensors but {len(like)} references')
    out = list(tensors)
    info = get_dist_info()
    if not info.distributed:
        return out
    buckets: dict[tuple[torch.device, torch.dtype], list[int]] = {}
    for i, ref in enumerate(like):
        buckets.setdefault((ref.device, ref.dtype), []).append(i)
    for (device, dtype), idx in buckets.items():
        flags = torch.tensor([tensors[i] is not None for i in idx], dtype=dtype, device=device)
        flat = torch.cat([(like[i].new_zeros(like[i].shape) if tensors[i] is None else tensors[i]).reshape(-1)
                          for i in idx] + [flags])
        dist.all_reduce(flat)
        counts = flat[-len(idx):].tolist()
        offset = 0
        for i, count in zip(idx, counts):
            n = like[i].numel()
            out[i] = flat[offset:offset + n].view_as(like[i]).div_(info.world_size) if count > 0 else None
            offset += n
    return out


def average_gradients(params: Iterable[torch.Tensor]) -> None:
    """Average ``p.grad`` over all ranks (:func:`average_tensors`), in place.

    A parameter without a gradient on every rank keeps ``grad=None``; one that has a gradient on
    some ranks only gets the average with zeros from the others. Shapes: any.

    Example:
        >>> w = torch.nn.Parameter(torch.ones(2)); w.grad = torch.full((2,), 3.0)
        >>> average_gradients([w]); w.grad.tolist()   # a single process: unchanged
        [3.0, 3.0]
    """
    if not get_dist_info().distributed:
        return
    params = list(params)
    for p, grad in zip(params, average_tensors([p.grad for p in params], params)):
        if grad is None:
            continue
        if p.grad is None:
            p.grad = grad.clone()
        else:
            p.grad.copy_(grad)


def broadcast_tensors(tensors: Iterable[torch.Tensor], src: int = 0) -> None:
    """Overwrite ``tensors`` on every rank with rank ``src``'s values, in place: one broadcast
    per (device, dtype) of all of them flattened, not one per tensor (a supernet has hundreds
    of small BatchNorm buffers, and each message is a round trip). Shapes: any.

    Example:
        >>> broadcast_tensors([torch.ones(2), torch.zeros(3, dtype=torch.long)])  # one process: no-op
    """
    if not get_dist_info().distributed:
        return
    buckets: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for t in tensors:
        buckets.setdefault((t.device, t.dtype), []).append(t)
    with torch.no_grad():
        for group in buckets.values():
            flat = torch.cat([t.detach().reshape(-1) for t in group])
            dist.broadcast(flat, src)
            offset = 0
            for t in group:
                t.detach().copy_(flat[offset:offset + t.numel()].view_as(t))
                offset += t.numel()


def broadcast_state(module: nn.Module, src: int = 0) -> None:
    """Make every rank's parameters and buffers equal to rank ``src``'s (in place).

    Example:
        >>> broadcast_state(torch.nn.Linear(2, 2))  # a single process: nothing to do
    """
    broadcast_tensors(list(module.parameters()) + list(module.buffers()), src)


class DataParallelContext:
    """Data-parallel training of any :class:`~razor_ext.BaseAlgorithm` without wrapping it.

    ``attach`` broadcasts rank 0's weights and buffers, then hooks every optimizer: before it
    steps, gradients are averaged across ranks (:func:`average_gradients`); after it steps,
    rank 0's buffers (BatchNorm statistics, observer ranges) are broadcast, which is what
    ``DistributedDataParallel(broadcast_buffers=True)`` does, so that every rank holds the same
    model after every step and exports byte-identical files.

    Example:
        >>> model = torch.nn.Linear(2, 2)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> ctx = DataParallelContext(model).attach(opt)
        >>> model(torch.ones(1, 2)).sum().backward(); opt.step()   # one process: a plain step
        >>> ctx.detach()
    """

    def __init__(self, module: nn.Module, broadcast_buffers: bool = True) -> None:
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self._handles: list[Any] = []

    def attach(self, optimizers: torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer] | None
               ) -> DataParallelContext:
        broadcast_state(self.module)
        opts = [] if optimizers is None else (
            list(optimizers.values()) if isinstance(optimizers, Mapping) else [optimizers])
        for opt in opts:
            if not isinstance(opt, torch.optim.Optimizer):
                raise TypeError(f'data-parallel training needs torch.optim optimizers, got {type(opt).__name__}')
            params = _params_of(opt)
            self._handles.append(opt.register_step_pre_hook(
                lambda *_, params=params: average_gradients(params)))
            if self.broadcast_buffers:
                self._handles.append(opt.register_step_post_hook(lambda *_: self.sync_buffers()))
        self._set_reducers(average_tensors)
        return self

    def _set_reducers(self, reducer: Callable[..., list[torch.Tensor | None]] | None) -> None:
        # Algorithms that apply gradients outside an optimizer step (DARTS' virtual step)
        # declare ``set_gradient_reducer``; they get the same reduction, no DDP subclass.
        for module in self.module.modules():
            setter = getattr(module, 'set_gradient_reducer', None)
            if callable(setter):
                setter(reducer)

    def sync_buffers(self) -> None:
        """Reduce the statistics that know how (any submodule with ``sync_across_ranks()``,
        e.g. quantization observers and fake quants: min/max over all ranks), then broadcast
        rank 0's buffers to all ranks."""
        if not get_dist_info().distributed:
            return
        for module in self.module.modules():
            sync = getattr(module, 'sync_across_ranks', None)
            if module.training and callable(sync):
                sync()
        # Only modules in training mode change their buffers; a frozen teacher (eval) is skipped.
        broadcast_tensors([buf for module in self.module.modules() if module.training
                           for buf in module.buffers(recurse=False)], 0)

    def detach(self) -> None:
        self._set_reducers(None)
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
