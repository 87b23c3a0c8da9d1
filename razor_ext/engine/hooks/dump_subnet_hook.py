"""``DumpSubnetHook``: write the supernet's current subnet next to its checkpoints."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from razor_ext.engine.hooks.hook import Hook
from razor_ext.supernet.mutables import BaseMutable
from razor_ext.registry import HOOKS
from razor_ext.supernet.fix_subnet import export_fix_subnet


def searchable_part(model: nn.Module) -> nn.Module:
    """The module holding the mutables: an algorithm's architecture, or the model itself."""
    return getattr(model, 'architecture', model)


@HOOKS.register_module()
class DumpSubnetHook(Hook):
    """Every ``interval`` epochs (or iterations), write ``subnet_epoch_{n}.yaml`` (or
    ``subnet_iter_{n}.yaml``) in MMRazor's subnet format to ``out_dir`` (default: the work dir),
    atomically, keeping the newest ``max_keep_subnets`` (-1: all).

    Args:
        interval: dump every this many epochs (``by_epoch``) or iterations.
        by_epoch: count epochs or iterations.
        out_dir: folder for the files (default ``runner.work_dir``).
        max_keep_subnets: how many periodic files to keep.

    Example (config):
        >>> custom_hooks = [dict(type='DumpSubnetHook', interval=1)]
    """

    priority = 95  # after the checkpoint of the same epoch
    rank_zero_only = True  # it writes files or prints: rank 0 alone, in a torchrun job

    def __init__(self, interval: int = 1, by_epoch: bool = True, out_dir: str | None = None,
                 max_keep_subnets: int = -1) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval, self.by_epoch, self.out_dir = interval, by_epoch, out_dir
        self.max_keep_subnets = max_keep_subnets
        self._kept: list[Path] = []

    def before_run(self, runner: Any, **kwargs: Any) -> None:
        if not any(isinstance(m, BaseMutable) for m in searchable_part(runner.model).modules()):
            raise ValueError(f'DumpSubnetHook: {type(runner.model).__name__} has no mutables, so '
                             f'there is no subnet to dump; remove the hook from custom_hooks')

    def _dump(self, runner: Any, name: str) -> None:
        folder = Path(self.out_dir or runner.work_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        export_fix_subnet(searchable_part(runner.model), path=path)
        self._kept.append(path)
        while 0 <= self.max_keep_subnets < len(self._kept):
            self._kept.pop(0).unlink(missing_ok=True)

    def after_train_epoch(self, runner: Any, **kwargs: Any) -> None:
        if self.by_epoch and runner.train_loop.epoch % self.interval == 0:
            self._dump(runner, f'subnet_epoch_{runner.train_loop.epoch}.yaml')

    def after_train_iter(self, runner: Any, **kwargs: Any) -> None:
        if not self.by_epoch and runner.train_loop.iter % self.interval == 0:
            self._dump(runner, f'subnet_iter_{runner.train_loop.iter}.yaml')
