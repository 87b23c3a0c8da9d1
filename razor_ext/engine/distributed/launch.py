"""Process-group start-up for ``torchrun`` launches, and the rank queries the engine asks."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

LAUNCHERS = ('none', 'pytorch')


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job: ``rank`` of ``world_size``, ``local_rank`` on its host.

    Example:
        >>> DistInfo(rank=0, world_size=1, local_rank=0).is_main
        True
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def get_dist_info() -> DistInfo:
    """The current rank and world size (``rank 0 of 1`` outside an initialised process group).

    Example:
        >>> get_dist_info().world_size >= 1
        True
    """
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get('LOCAL_RANK', 0)))
    return DistInfo()


def is_main_process() -> bool:
    """True on rank 0 (and in a single-process run): the one process that writes files and logs."""
    return get_dist_info().is_main


def init_distributed(launcher: str, backend: str | None = None) -> DistInfo:
    """Join the process group a launcher set up; returns this process's :class:`DistInfo`.

    ``launcher='pytorch'`` reads torchrun's environment (``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``) and starts NCCL when CUDA is available (the
    device is then ``cuda:LOCAL_RANK``), gloo otherwise. ``'none'`` does nothing. Calling it
    again in an initialised process returns the existing group's info.

    Example:
        >>> init_distributed('none').world_size
        1
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f'launcher must be one of {LAUNCHERS}, got {launcher!r}')
    if launcher == 'none' or (dist.is_available() and dist.is_initialized()):
        return get_dist_info()
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if k not in os.environ]
    if missing:
        raise RuntimeError(f"launcher='pytorch' needs torchrun's environment; {missing} not set "
                           '(start with: torchrun --nproc_per_node N -m razor_ext ... --launcher pytorch)')
    if backend is None:
        backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    if backend == 'nccl':
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    return get_dist_info()


def default_device(info: DistInfo) -> torch.device:
    """The device a rank trains on: ``cuda:LOCAL_RANK`` under NCCL, the CPU otherwise."""
    if info.distributed and dist.get_backend() == 'nccl':
        return torch.device('cuda', info.local_rank)
    return torch.device('cpu')


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if get_dist_info().distributed:
        dist.barrier()
