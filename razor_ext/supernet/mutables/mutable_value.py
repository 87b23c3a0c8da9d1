"""``OneShotMutableValue`` (a searchable number: width, expand ratio, kernel size, depth) and
``DerivedMutable`` (a value computed from another mutable's choice, e.g. ``mutable * 4``)."""
from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from razor_ext.supernet.mutables.base_mutable import BaseMutable
from razor_ext.registry import MODELS


@MODELS.register_module()
class OneShotMutableValue(BaseMutable):
    """A value chosen from ``value_list``; ``max_choice`` / ``min_choice`` are the largest and
    smallest.

    Args:
        value_list: the candidate values (numbers).
        default_value: the initial choice (default: the largest).
        alias: shared-choice name.

    Example:
        >>> ratio = OneShotMutableValue([3, 4, 6])
        >>> (ratio * 16).current_choice, ratio.min_choice
        (96, 3)
    """

    def __init__(self, value_list: Sequence[Any], default_value: Any = None, alias: str | None = None) -> None:
        super().__init__(alias)
        if not value_list:
            raise ValueError('OneShotMutableValue needs a non-empty value_list')
        self._choices = list(value_list)
        self._current_choice = max(self._choices) if default_value is None else default_value
        self._check_choice(self._current_choice)

    @property
    def choices(self) -> list[Any]:
        return list(self._choices)

    @property
    def max_choice(self) -> Any:
        return max(self._choices)

    @property
    def min_choice(self) -> Any:
        return min(self._choices)

    def forward(self, *args: Any) -> Any:
        raise RuntimeError('a mutable value is read (current_choice), not called')

    def derive(self, fn: Callable[[Any], Any]) -> DerivedMutable:
        """A :class:`DerivedMutable` whose choice is ``fn(self.current_choice)``."""
        return DerivedMutable(fn, self)

    def __mul__(self, other: Any) -> DerivedMutable:
        return self.derive(lambda v: v * other)

    __rmul__ = __mul__

    def __floordiv__(self, other: Any) -> DerivedMutable:
        return self.derive(lambda v: v // other)

    def __add__(self, other: Any) -> DerivedMutable:
        return self.derive(lambda v: v + other)


class DerivedMutable:
    """A read-only value derived from source mutables: ``current_choice`` follows the sources.

    Not a search group of its own (the mutator searches its sources only). ``fn`` takes the
    sources' current choices, in order.

    Example:
        >>> width = OneShotMutableValue([8, 16])
        >>> half = width // 2
        >>> width.current_choice = 8
        >>> half.current_choice
        4
        >>> DerivedMutable.concat(width, half).current_choice  # torch.cat of two branches
        12
    """

    def __init__(self, fn: Callable[..., Any], *sources: Any) -> None:
        if not sources:
            raise ValueError('a DerivedMutable needs at least one source mutable')
        self.fn, self.sources = fn, sources

    @property
    def source(self) -> Any:
        return self.sources[0]

    @property
    def current_choice(self) -> Any:
        return self.fn(*(s.current_choice for s in self.sources))

    @classmethod
    def concat(cls, *mutables: Any) -> DerivedMutable:
        """The channel count of ``torch.cat`` of tensors whose widths are ``mutables``."""
        return cls(lambda *values: sum(values), *mutables)

    def derive(self, fn: Callable[[Any], Any]) -> DerivedMutable:
        return DerivedMutable(lambda *v: fn(self.fn(*v)), *self.sources)

    def __mul__(self, other: Any) -> DerivedMutable:
        return self.derive(lambda v: operator.mul(v, other))

    __rmul__ = __mul__

    def __floordiv__(self, other: Any) -> DerivedMutable:
        return self.derive(lambda v: operator.floordiv(v, other))

    def __add__(self, other: Any) -> DerivedMutable:
        return self.derive(lambda v: operator.add(v, other))

    def __repr__(self) -> str:
        return f'DerivedMutable(current_choice={self.current_choice!r})'
