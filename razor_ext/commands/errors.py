"""``CommandError``: what a command reports to the user as one line plus a hint."""
from __future__ import annotations


class CommandError(Exception):
    """An error shown as one line plus a hint (no traceback unless ``--debug``).

    Example:
        >>> err = CommandError('config x.py does not exist', 'razor-ext configs lists them')
        >>> str(err), err.hint
        ('config x.py does not exist', 'razor-ext configs lists them')
    """

    def __init__(self, message: str, hint: str = '') -> None:
        super().__init__(message)
        self.hint = hint
