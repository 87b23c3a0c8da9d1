"""``BaseMutable``: what every mutable offers a mutator and the subnet export."""
from __future__ import annotations

import random
from typing import Any

from torch import nn


class BaseMutable(nn.Module):
    """A searchable part with ``choices``, a ``current_choice`` and a fixed state.

    Args:
        alias: mutables with the same alias share one choice (one search group) and are saved
            under the alias in subnet files.

    Subclasses define ``choices`` and may override ``_check_choice``.
    """

    def __init__(self, alias: str | None = None) -> None:
        super().__init__()
        if alias is not None and not isinstance(alias, str):
            raise TypeError(f'alias must be a str or None, got {type(alias).__name__}')
        self.alias = alias
        self.is_fixed = False
        self._current_choice: Any = None

    @property
    def choices(self) -> list[Any]:
        raise NotImplementedError

    def _check_choice(self, choice: Any) -> None:
        if choice not in self.choices:
            raise ValueError(f'{type(self).__name__}{f" {self.alias!r}" if self.alias else ""}: '
                             f'choice {choice!r} is not one of {self.choices}')

    @property
    def current_choice(self) -> Any:
        return self._current_choice

    @current_choice.setter
    def current_choice(self, choice: Any) -> None:
        if self.is_fixed and choice != self._current_choice:
            raise RuntimeError(f'{type(self).__name__} is fixed to {self._current_choice!r}; '
                               f'it cannot take {choice!r}')
        self._check_choice(choice)
        self._current_choice = choice

    @property
    def max_choice(self) -> Any:
        return self.choices[0]

    @property
    def min_choice(self) -> Any:
        return self.choices[-1]

    def sample_choice(self) -> Any:
        """A uniformly random choice (Python's ``random``, so it follows ``random.seed``)."""
        return random.choice(self.choices)

    def fix_chosen(self, chosen: Any) -> None:
        """Fix the mutable to ``chosen`` for good (a searched subnet)."""
        self.current_choice = chosen
        self.is_fixed = True

    def dump_chosen(self) -> dict[str, Any]:
        """``{'chosen': current choice, 'meta': {'all_choices': [...]}}``: MMRazor's subnet entry."""
        return {'chosen': self.current_choice, 'meta': {'all_choices': list(self.choices)}}
