"""``EpochInfoHook``: tells the model which epoch starts (what MMEngine's message hub gives
MMRazor algorithms that change stage by epoch, such as DSNAS)."""
from __future__ import annotations

from typing import Any

from razor_ext.engine.hooks.hook import Hook
from razor_ext.registry import HOOKS


@HOOKS.register_module()
class EpochInfoHook(Hook):
    """Before each training epoch, call ``model.set_epoch(epoch)`` (0-based) when the model has
    one.

    Example (config):
        >>> custom_hooks = [dict(type='EpochInfoHook')]
    """

    priority = 10  # before hooks that may log or checkpoint the stage

    def before_train_epoch(self, runner: Any, **kwargs: Any) -> None:
        set_epoch = getattr(runner.model, 'set_epoch', None)
        if callable(set_epoch):
            set_epoch(int(getattr(runner.train_loop, 'epoch', 0)))
