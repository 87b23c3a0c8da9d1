"""``LoggerHook``: JSON lines in ``work_dir`` plus readable console lines with progress."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from razor_ext.engine.hooks.hook import Hook
from razor_ext.registry import HOOKS


@HOOKS.register_module()
class LoggerHook(Hook):
    """Log training losses every ``interval`` iterations and every validation's metrics.

    Writes ``<work_dir>/log.jsonl`` (one JSON object a line: ``mode``, ``epoch``, ``iter``,
    losses or metrics, ``lr``, ``time``) and prints a line to stdout when ``console``. The
    console line shows progress as ``[iter/max_iters]``; it is plain text, so it reads the same
    in a terminal, a CI log or a file.

    Args:
        interval: log every this many iterations.
        console: print to stdout too.
        log_metric_by_epoch: MMEngine's switch for the step shown with validation metrics,
            accepted for its configs (MMRazor's DFAD / ZSKT set it); records carry both the epoch
            and the iteration here.
    """

    priority = 10
    rank_zero_only = True  # it writes files or prints: rank 0 alone, in a torchrun job

    def __init__(self, interval: int = 10, console: bool = True,
                 log_metric_by_epoch: bool = True) -> None:
        self.interval, self.console = interval, console
        self._start = time.perf_counter()
        self._sums: dict[str, float] = {}
        self._count = 0

    def _write(self, runner: Any, record: dict[str, Any]) -> None:
        with open(Path(runner.work_dir) / 'log.jsonl', 'a', encoding='utf-8') as f:
            f.write(json.dumps(record) + '\n')
        if self.console:
            values = ' '.join(f'{k}: {v:.4g}' if isinstance(v, float) else f'{k}: {v}'
                              for k, v in record.items() if k not in ('mode',))
            print(f"[{record['mode']}] {values}", file=sys.stdout, flush=True)

    def after_train_iter(self, runner: Any, outputs: dict[str, float] | None = None,
                         **kwargs: Any) -> None:
        for key, value in (outputs or {}).items():
            self._sums[key] = self._sums.get(key, 0.0) + float(value)
        self._count += 1
        loop = runner.train_loop
        if loop.iter % self.interval and loop.iter != loop.max_iters:
            return
        record: dict[str, Any] = {'mode': 'train', 'epoch': loop.epoch + 1,
                                  'iter': f'{loop.iter}/{loop.max_iters}'}
        record.update({k: v / self._count for k, v in self._sums.items()})
        record['lr'] = runner.current_lr()
        record['time'] = round(time.perf_counter() - self._start, 2)
        self._sums, self._count = {}, 0
        self._write(runner, record)

    def after_val(self, runner: Any, metrics: dict[str, float] | None = None, **kwargs: Any) -> None:
        loop = runner.train_loop
        record: dict[str, Any] = {'mode': 'val'}
        if loop is not None:  # a search or calibration loop may have no epoch/iter position
            record.update({k: getattr(loop, k) for k in ('epoch', 'iter') if hasattr(loop, k)})
        record.update(metrics or {})
        self._write(runner, record)

    def after_test(self, runner: Any, metrics: dict[str, float] | None = None, **kwargs: Any) -> None:
        self._write(runner, {'mode': 'test', **(metrics or {})})
