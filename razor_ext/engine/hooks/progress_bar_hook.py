"""``ProgressBarHook``: a live bar per training epoch on a terminal."""
from __future__ import annotations

from typing import Any

from razor_ext.engine.hooks.hook import Hook
from razor_ext.engine.progress import ProgressBar
from razor_ext.registry import HOOKS


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Show a tqdm bar over each training epoch's iterations, with the running loss, when
    stderr is a terminal; when it is not (CI, a pipe, a file), show nothing: the
    ``LoggerHook``'s plain lines carry the progress there. In ``default_hooks`` as
    ``progress``; set ``progress=None`` to turn it off, or ``enabled=True/False`` to force it.

    Example (config):
        >>> default_hooks = dict(progress=dict(type='ProgressBarHook'))
    """

    priority = 20
    rank_zero_only = True  # it writes files or prints: rank 0 alone, in a torchrun job

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = enabled
        self._bar: ProgressBar | None = None

    def before_train_epoch(self, runner: Any, **kwargs: Any) -> None:
        loop = runner.train_loop
        total = len(loop.dataloader) if hasattr(loop.dataloader, '__len__') else None
        self._bar = ProgressBar(total, f'epoch {getattr(loop, "epoch", 0) + 1}', self.enabled)

    def after_train_iter(self, runner: Any, outputs: dict[str, float] | None = None,
                         **kwargs: Any) -> None:
        if self._bar is not None:
            loss = (outputs or {}).get('loss')
            self._bar.update(**({'loss': float(loss)} if loss is not None else {}))

    def after_train_epoch(self, runner: Any, **kwargs: Any) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    after_train = after_train_epoch
