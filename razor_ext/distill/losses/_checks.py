"""Argument checks shared by the loss constructors (errors name the argument)."""
from __future__ import annotations

from collections.abc import Iterable


def check_reduction(reduction: object, accepted: Iterable[object]) -> None:
    """Raise ValueError naming ``reduction`` unless it is one of ``accepted``."""
    accepted = tuple(accepted)
    if reduction not in accepted:
        raise ValueError(f'reduction must be one of {accepted}, got {reduction!r}')


def check_positive(name: str, value: object) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is a number > 0."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f'{name} must be a number > 0, got {value!r}')
