"""The fault of the kill-and-resume test: SIGKILL the whole ``torchrun`` job mid-training.

A config that imports this module and adds ``dict(type='KillJobAtIter', at=k)`` to
``custom_hooks`` dies right after iteration ``k``'s checkpoint is on disk (a point fixed by the
run, not by a timer): rank 0 kills torchrun's agent first (so nothing restarts the workers or
shuts them down cleanly), then the other ranks, then itself, as a lost node or an OOM kill
would. Rank 1 is then at most inside iteration ``k + 1``, waiting on rank 0's all-reduce.
"""
from __future__ import annotations

import os
import signal
from typing import Any

import torch.distributed as dist

from razor_ext.engine import Hook
from razor_ext.registry import HOOKS


@HOOKS.register_module()
class KillJobAtIter(Hook):
    priority = 99  # after CheckpointHook (90) has written iteration ``at``'s checkpoint

    def __init__(self, at: int) -> None:
        self.at = at
        self.pids: list[int] = []

    def before_train(self, runner: Any, **kwargs: Any) -> None:
        pids: list[Any] = [None] * runner.world_size
        dist.all_gather_object(pids, os.getpid())
        self.pids = pids

    def after_train_iter(self, runner: Any, **kwargs: Any) -> None:
        if runner.train_loop.iter != self.at or not runner.is_main_process:
            return
        os.kill(os.getppid(), signal.SIGKILL)
        for pid in self.pids:
            if pid != os.getpid():
                os.kill(pid, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
