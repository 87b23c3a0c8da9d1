"""Deliveries: run a function/method in the teacher, then replay its outputs in the student.

Typical use: a random data augmentation (mixup, crop) or a sampled mask must be identical for
teacher and student. While ``override_data`` is False (teacher run) each call's outputs are
queued; while True (student run) calls return the queued outputs, in order, without running.
"""
from __future__ import annotations

import functools
import inspect
from collections import deque
from typing import Any

from razor_ext.distill.recorders.import_path import resolve_attribute
from razor_ext.registry import MODELS


class DistillDelivery:
    """Base delivery of the outputs of ``path``; subclasses say whether it is a function or a
    method (which only changes the error messages and docs)."""

    def __init__(self, path: str, max_keep_data: int = 1, what: str = 'path') -> None:
        if not isinstance(max_keep_data, int) or max_keep_data < 1:
            raise ValueError(f'max_keep_data must be an int >= 1, got {max_keep_data!r}')
        self._owner, self._name = resolve_attribute(path, what)
        self.path = path
        self.max_keep_data = max_keep_data
        self.data_queue: deque[Any] = deque(maxlen=max_keep_data)
        self.override_data = False
        self._saved: Any = None

    def __enter__(self) -> DistillDelivery:
        self._saved = inspect.getattr_static(self._owner, self._name)
        target = getattr(self._owner, self._name)

        @functools.wraps(target)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self.override_data:
                if not self.data_queue:
                    raise RuntimeError(f'delivery of {self.path!r} has no teacher output left to '
                                       f'replay: the student called it more often than the '
                                       f'teacher (or max_keep_data={self.max_keep_data} is too '
                                       f'small)')
                return self.data_queue.popleft()
            outputs = target(*args, **kwargs)
            self.data_queue.append(outputs)
            return outputs

        setattr(self._owner, self._name, wrapper)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(self._owner, self._name, self._saved)


@MODELS.register_module()
class FunctionOutputsDelivery(DistillDelivery):
    """Delivers the outputs of function ``func_path`` (``'package.module.func'``).

    Example:
        >>> import torch
        >>> d = FunctionOutputsDelivery(max_keep_data=1, func_path='torch.rand')
        >>> with d:
        ...     a = torch.rand(2)
        >>> d.override_data = True
        >>> with d:
        ...     b = torch.rand(2)
        >>> torch.equal(a, b)
        True
    """

    def __init__(self, func_path: str, max_keep_data: int = 1) -> None:
        super().__init__(func_path, max_keep_data, 'func_path')


@MODELS.register_module()
class MethodOutputsDelivery(DistillDelivery):
    """Delivers the outputs of method ``method_path`` (``'package.module.Class.method'``).

    Example:
        >>> import torch
        >>> d = MethodOutputsDelivery(max_keep_data=1, method_path='torch.nn.Dropout.forward')
        >>> x = torch.ones(8); drop = torch.nn.Dropout(0.5)
        >>> with d:
        ...     a = drop(x)
        >>> d.override_data = True
        >>> with d:
        ...     b = drop(x)
        >>> torch.equal(a, b)
        True
    """

    def __init__(self, method_path: str, max_keep_data: int = 1) -> None:
        super().__init__(method_path, max_keep_data, 'method_path')
