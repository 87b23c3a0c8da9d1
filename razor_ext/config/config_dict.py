"""ConfigDict: the dict with attribute access that holds a config's values."""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any


def to_config(value: Any) -> Any:
    """Turn nested dicts (also inside lists/tuples) into ConfigDicts for attribute access."""
    if isinstance(value, ConfigDict):
        return value
    if isinstance(value, Mapping):
        return ConfigDict(value)
    if isinstance(value, list):
        return [to_config(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, '_fields'):
        return tuple(to_config(v) for v in value)
    return value


def _to_plain(value: Any) -> Any:
    """Turn ConfigDicts (also inside lists/tuples) back into plain dicts."""
    if isinstance(value, Mapping):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, '_fields'):
        return tuple(_to_plain(v) for v in value)
    return value


def missing_key_message(owner: str, name: str, keys: list[Any]) -> str:
    """Message for a missing key ``name`` of ``owner``: close matches, then all str keys."""
    str_keys = [k for k in keys if isinstance(k, str)]
    close = difflib.get_close_matches(name, str_keys, n=3)
    hint = f' Did you mean: {", ".join(map(repr, close))}?' if close else ''
    return f'{owner} has no key {name!r}.{hint} Keys: {sorted(str_keys)}'


def refuse_shadowing(obj: Any, name: str) -> None:
    """Raise AttributeError if ``name`` is a class attribute of ``obj`` (method, property)."""
    # The key would be stored but ``obj.name`` would keep returning the method/property.
    if hasattr(type(obj), name):
        raise AttributeError(f'{name!r} is an attribute of {type(obj).__name__}; set the key '
                             f'with item access: obj[{name!r}] = ...')


class ConfigDict(dict):
    """A dict whose keys are also attributes; nested dicts are ConfigDicts too.

    Keys that collide with dict methods (``items``, ``keys``, ``update``, ...) are reachable
    only with item access. A missing attribute raises AttributeError naming the key.

    Example:
        >>> cfg = ConfigDict(model=dict(type='ResNet', depth=50))
        >>> cfg.model.depth
        50
        >>> cfg.model.width = 2
        >>> cfg.to_dict()
        {'model': {'type': 'ResNet', 'depth': 50, 'width': 2}}
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.update(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            # AttributeError (not KeyError) keeps hasattr/getattr/copy/pickle working.
            raise AttributeError(missing_key_message('ConfigDict', name, list(self))) from None

    def __setattr__(self, name: str, value: Any) -> None:
        refuse_shadowing(self, name)
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(missing_key_message('ConfigDict', name, list(self))) from None

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, to_config(value))

    # dict's C implementations of these bypass __setitem__, so nested dicts would stay plain.
    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Like ``dict.update``, converting nested dicts to ConfigDicts."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """Like ``dict.setdefault``, converting a nested dict default to a ConfigDict."""
        if key not in self:
            self[key] = default
        return self[key]

    def __ior__(self, other: Any) -> ConfigDict:  # type: ignore[override]
        self.update(other)
        return self

    def copy(self) -> ConfigDict:
        """Shallow copy that stays a ConfigDict."""
        return ConfigDict(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict copy (ConfigDicts inside lists/tuples converted too)."""
        return _to_plain(self)
