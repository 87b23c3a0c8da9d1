"""``Hook``: the points at which the runner calls back into hooks."""
from __future__ import annotations

from typing import Any

HOOK_POINTS = ('before_run', 'after_run', 'before_train', 'after_train', 'before_train_epoch',
               'after_train_epoch', 'before_train_iter', 'after_train_iter', 'before_val',
               'after_val', 'before_test', 'after_test')


class Hook:
    """Base class: override any of :data:`HOOK_POINTS`; each takes ``(runner, **kwargs)``.

    ``priority`` orders hooks (lower runs first), as MMEngine's ``'NORMAL'`` = 50.
    ``rank_zero_only = True`` runs a hook on rank 0 only in a distributed run (hooks that write
    files or print); the others run on every rank.

    Example:
        >>> class CountIters(Hook):
        ...     def __init__(self):
        ...         self.count = 0
        ...     def after_train_iter(self, runner, **kwargs):
        ...         self.count += 1
    """

    priority = 50
    rank_zero_only = False

    def _noop(self, runner: Any, **kwargs: Any) -> None:
        return None

    before_run = after_run = before_train = after_train = _noop
    before_train_epoch = after_train_epoch = before_train_iter = after_train_iter = _noop
    before_val = after_val = before_test = after_test = _noop
