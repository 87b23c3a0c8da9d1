"""Prefix a build error with the config entry it came from, keeping its type."""
from __future__ import annotations


def with_context(err: Exception, context: str) -> Exception:
    """A new exception of ``err``'s type whose message starts with ``context``.

    KeyError's ``str`` adds quotes, so its first argument is used as the message.

    Example:
        >>> str(with_context(ValueError('bad tau'), "loss 'loss_kd'"))
        "loss 'loss_kd': bad tau"
    """
    message = err.args[0] if len(err.args) == 1 and isinstance(err.args[0], str) else str(err)
    try:
        return type(err)(f'{context}: {message}')
    except TypeError:  # an exception type with a different constructor
        return RuntimeError(f'{context}: {message}')
