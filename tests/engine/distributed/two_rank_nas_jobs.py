"""Algorithms with several forwards or gradient passes per step, trained data-parallel on the
same global batches as a single process (called by ``two_rank_jobs.run_all`` on each rank and
by the tests in one process).

The supernet has no BatchNorm on purpose: with BatchNorm each rank normalises its own half of
the batch, which is a different function of the data than one process normalising the whole
batch, so the single-process equivalence would not hold (``sync_bn=True`` restores it). Every
loss here is a batch mean, so the mean of the two halves' gradients is the gradient of the
whole batch: the runs agree up to float rounding (the sums are taken in another order).
"""
from __future__ import annotations

import random
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from razor_ext.data import EmbeddedDigits
from razor_ext.engine.distributed import DataParallelContext, get_dist_info
from razor_ext.nas.algorithms import DARTS
from razor_ext.registry import MODELS
from tests.nas.tiny_supernet import TinyMutator, TinySupernet, WidthConvBN

KINDS = ('AutoSlim', 'BigNAS', 'DARTS', 'DARTS-unroll', 'SPOS')
STEPS = 3
GLOBAL_BATCH = 16


class WidthConv(WidthConvBN):
    """An elastic-width conv that skips its BatchNorm (see the module docstring); the BatchNorm's
    parameters stay, never used: they never get a gradient, on any rank."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.conv.weight[:self.current_choice], padding=1)


class NoBNSupernet(TinySupernet):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())
        self.width = WidthConv(8, 16, [4, 8, 16])


def global_batches(count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` fixed batches of 16 real digits at 14x14."""
    ds = EmbeddedDigits('mnist5k', split='train')
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(1))[:count * GLOBAL_BATCH]
    images = F.avg_pool2d(ds.images[idx].float(), 2)
    return list(zip(images.split(GLOBAL_BATCH), ds.labels[idx].split(GLOBAL_BATCH)))


def _build(kind: str) -> tuple[nn.Module, Any]:
    if kind == 'SPOS':
        algo = MODELS.build(dict(type='SPOS', architecture=NoBNSupernet(), mutator=TinyMutator()))
        return algo, torch.optim.SGD(algo.parameters(), lr=0.1, momentum=0.9)
    if kind in ('AutoSlim', 'BigNAS'):
        algo = MODELS.build(dict(type=kind, architecture=NoBNSupernet(), mutator=TinyMutator(),
                                 num_random_samples=2,
                                 distiller=dict(type='KLDivergence', tau=1.0, loss_weight=1.0)))
        return algo, torch.optim.SGD(algo.parameters(), lr=0.1, momentum=0.9)
    algo = DARTS(NoBNSupernet(), mutator=TinyMutator(diff=True), unroll=kind == 'DARTS-unroll')
    return algo, dict(architecture=torch.optim.SGD(algo.weight_parameters(), lr=0.05, momentum=0.9,
                                                   weight_decay=1e-3),
                      mutator=torch.optim.Adam(algo.arch_parameters(), lr=0.01))


def _shard(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    info = get_dist_info()
    size = GLOBAL_BATCH // info.world_size
    return tuple(t[info.rank * size:(info.rank + 1) * size] for t in batch)  # type: ignore[return-value]


def train(kind: str, reduce_virtual_step: bool = True) -> dict[str, Any]:
    """Train ``kind`` for ``STEPS`` steps; in a process group each rank takes its slice of every
    global batch. Returns the final state, the choices of each step and, per step, the names of
    the parameters that had no gradient when the optimizer stepped.

    ``reduce_virtual_step=False`` takes the gradient reducer away from DARTS again: its
    unrolled virtual step then uses each rank's own gradients (the behaviour before it had one).
    """
    random.seed(0)  # TinyMutator samples with Python's random: the same stream on every rank
    torch.manual_seed(0)
    algo, opt = _build(kind)
    no_grad: list[list[str]] = []
    names = {id(p): n for n, p in algo.named_parameters()}
    optimizers = opt.values() if isinstance(opt, dict) else [opt]
    for o in optimizers:
        # Registered before the context's hook: sees the gradients as backward left them.
        o.register_step_pre_hook(lambda o, *_: no_grad.append(sorted(
            names[id(p)] for g in o.param_groups for p in g['params'] if p.grad is None)))
    ctx = DataParallelContext(algo).attach(opt)
    if not reduce_virtual_step:
        algo.set_gradient_reducer(None)
    batches = global_batches(2 * STEPS)
    for step in range(STEPS):
        data = _shard(batches[step])
        if kind.startswith('DARTS'):
            data = (data, _shard(batches[STEPS + step]))
        algo.train_step(data, opt)
    ctx.detach()
    return dict(state={k: v.detach().clone() for k, v in algo.state_dict().items()},
                choices=list(algo.mutator.history), no_grad=no_grad)


def run_nas(rank: int) -> dict[str, Any]:
    """Every algorithm of :data:`KINDS` on this rank, plus the reduction of a gradient that
    exists on one rank only."""
    torch.set_num_threads(1)
    result: dict[str, Any] = {kind: train(kind) for kind in KINDS}
    result['DARTS-unroll-local'] = train('DARTS-unroll', reduce_virtual_step=False)
    from razor_ext.engine.distributed import average_tensors

    w, unused = torch.zeros(3), torch.zeros(2)
    result['one_rank_grad'] = average_tensors([torch.full((3,), 4.0) if rank == 0 else None, None],
                                              [w, unused])
    return result
