"""Package-scoped config paths, as MMEngine writes them: ``'mmcls::resnet/resnet18_8xb32_in1k.py'``.

A scope names a folder of config files that a package ships; ``register_scope`` maps it, and every
place that takes a config path (``Config.fromfile``, ``_base_`` entries) resolves ``scope::rest``
through :func:`resolve_config_path`. A path without ``::`` is a plain file path.

Example:
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> register_scope('demo_scope', folder)
    >>> resolve_config_path('demo_scope::a/b.py') == folder / 'a' / 'b.py'
    True
    >>> split_scope('configs/x.py')
    (None, 'configs/x.py')
"""
from __future__ import annotations

import os
from pathlib import Path

SCOPE_SEP = '::'
_SCOPES: dict[str, Path] = {}


def register_scope(name: str, directory: str | os.PathLike[str], force: bool = False) -> None:
    """Map the scope ``name`` (``'mmcls'`` in ``'mmcls::resnet/r18.py'``) to ``directory``.

    Raises:
        TypeError / ValueError: a name that is not a plain identifier-like string.
        KeyError: ``name`` is mapped to another folder already and ``force`` is False.
    """
    if not isinstance(name, str) or not name or SCOPE_SEP in name or '/' in name:
        raise ValueError(f'a config scope is a non-empty name without "::" or "/", got {name!r}')
    folder = Path(os.path.abspath(os.path.expanduser(directory)))
    old = _SCOPES.get(name)
    if old is not None and old != folder and not force:
        raise KeyError(f'config scope "{name}" is mapped to {old} already (force=True replaces it)')
    _SCOPES[name] = folder


def registered_scopes() -> dict[str, Path]:
    """The scopes known now: name -> folder."""
    return dict(_SCOPES)


def split_scope(path: str | os.PathLike[str]) -> tuple[str | None, str]:
    """``('mmcls', 'resnet/r18.py')`` for ``'mmcls::resnet/r18.py'``; ``(None, path)`` without a scope."""
    text = os.fspath(path)
    scope, sep, rest = text.partition(SCOPE_SEP)
    if not sep:
        return None, text
    return scope, rest


def resolve_config_path(path: str | os.PathLike[str], relative_to: Path | None = None) -> Path:
    """The absolute file a config path names: ``scope::rest`` in the scope's folder, a relative
    plain path under ``relative_to`` (the folder of the config that names it) or the working
    directory, ``~`` expanded.

    Raises:
        ValueError: an unknown scope (the message lists the known ones).
    """
    scope, rest = split_scope(path)
    if scope is not None:
        if scope not in _SCOPES:
            known = ', '.join(f'"{s}::"' for s in sorted(_SCOPES)) or 'none'
            raise ValueError(f'unknown config scope "{scope}::" in {os.fspath(path)!r}; known '
                             f'scopes: {known} (razor_ext.config.register_scope adds one)')
        return Path(os.path.abspath(_SCOPES[scope] / rest))
    resolved = Path(os.path.expanduser(rest))
    if not resolved.is_absolute() and relative_to is not None:
        resolved = relative_to / resolved
    return Path(os.path.abspath(resolved))
