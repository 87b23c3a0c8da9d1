"""Progress display: a tqdm bar on an interactive terminal, nothing extra otherwise (plain log
lines already report progress, and bars would fill CI logs and files with control characters)."""
from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any, TypeVar

T = TypeVar('T')


def interactive(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default: stderr, where bars go) is a terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, 'isatty', None)
    return bool(isatty and isatty())


class ProgressBar:
    """A tqdm bar over ``total`` steps when ``enabled`` (default: stderr is a terminal), else a
    no-op with the same methods.

    Example:
        >>> bar = ProgressBar(total=3, desc='epoch 1', enabled=False)
        >>> bar.update(loss=0.5); bar.close()
    """

    def __init__(self, total: int | None, desc: str = '', enabled: bool | None = None,
                 stream: IO[str] | None = None) -> None:
        self._bar: Any = None
        if interactive(stream) if enabled is None else enabled:
            from tqdm import tqdm
            self._bar = tqdm(total=total, desc=desc, file=stream or sys.stderr, leave=False,
                             dynamic_ncols=True)

    @property
    def active(self) -> bool:
        return self._bar is not None

    def update(self, n: int = 1, **postfix: float) -> None:
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix({k: f'{v:.4g}' for k, v in postfix.items()}, refresh=False)
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def track(iterable: Iterable[T], total: int | None = None, desc: str = '',
          enabled: bool | None = None) -> Iterator[T]:
    """Iterate ``iterable`` with a :class:`ProgressBar` (a no-op when not on a terminal)."""
    bar = ProgressBar(total if total is not None else _len(iterable), desc, enabled)
    try:
        for item in iterable:
            yield item
            bar.update()
    finally:
        bar.close()


def _len(iterable: Iterable[Any]) -> int | None:
    try:
        return len(iterable)  # type: ignore[arg-type]
    except TypeError:
        return None
