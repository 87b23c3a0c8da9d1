"""``CheckpointHook``: atomic checkpoints that keep the last N and the best."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from razor_ext.engine.hooks.hook import Hook
from razor_ext.fileio import atomic_write_text
from razor_ext.registry import HOOKS


@HOOKS.register_module()
class CheckpointHook(Hook):
    """Save a checkpoint every ``interval`` epochs (or iterations) and the best by a metric.

    Each checkpoint holds the model, optimizers, schedulers, loop position and RNG states (see
    :meth:`Runner.save_checkpoint`); it is written to a temp file and renamed, so a crash never
    leaves a torn file, and ``last_checkpoint`` (a text file naming the newest) is updated only
    after the rename.

    Args:
        interval: save every this many epochs (``by_epoch``) or iterations.
        by_epoch: count epochs (True) or iterations.
        max_keep_ckpts: keep the newest N periodic checkpoints (-1: all).
        save_best: a metric name (e.g. ``'accuracy/top1'``) or ``'auto'`` (the first metric);
            None: no best checkpoint.
        rule: ``'greater'`` or ``'less'``: which value of ``save_best`` is better.
        save_last: save after the final epoch/iteration even off the interval.
    """

    priority = 90  # after the logger has recorded the iteration
    rank_zero_only = True  # it writes files or prints: rank 0 alone, in a torchrun job

    def __init__(self, interval: int = 1, by_epoch: bool = True, max_keep_ckpts: int = 3,
                 save_best: str | None = None, rule: str = 'greater', save_last: bool = True) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        if rule not in ('greater', 'less'):
            raise ValueError(f"rule must be 'greater' or 'less', got {rule!r}")
        self.interval, self.by_epoch, self.max_keep_ckpts = interval, by_epoch, max_keep_ckpts
        self.save_best, self.rule, self.save_last = save_best, rule, save_last
        self.best_score: float | None = None
        self._kept: list[Path] = []

    def _save(self, runner: Any, name: str) -> None:
        path = runner.save_checkpoint(name)
        atomic_write_text(Path(runner.work_dir) / 'last_checkpoint', name + '\n')
        self._kept.append(path)
        while 0 <= self.max_keep_ckpts < len(self._kept):
            self._kept.pop(0).unlink(missing_ok=True)

    def after_train_iter(self, runner: Any, **kwargs: Any) -> None:
        loop = runner.train_loop
        if not self.by_epoch and (loop.iter % self.interval == 0
                                  or (self.save_last and loop.iter >= loop.max_iters)):
            self._save(runner, f'iter_{loop.iter}.pth')

    def after_train_epoch(self, runner: Any, **kwargs: Any) -> None:
        loop = runner.train_loop
        if self.by_epoch and (loop.epoch % self.interval == 0
                              or (self.save_last and loop.epoch >= loop.max_epochs)):
            self._save(runner, f'epoch_{loop.epoch}.pth')

    def after_val(self, runner: Any, metrics: dict[str, float] | None = None, **kwargs: Any) -> None:
        if self.save_best is None or not metrics or runner.train_loop is None:
            return
        key = next(iter(metrics)) if self.save_best == 'auto' else self.save_best
        if key not in metrics:
            raise KeyError(f'CheckpointHook.save_best={key!r} is not among the metrics {sorted(metrics)}')
        score = float(metrics[key])
        better = (self.best_score is None or (score > self.best_score if self.rule == 'greater'
                                              else score < self.best_score))
        if better:
            self.best_score = score
            runner.save_checkpoint(f"best_{key.replace('/', '_')}.pth", extra_meta={'best_score': score})
