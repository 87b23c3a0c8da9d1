"""Dumping configs: checking values are plain data and writing ``.py``/``.yaml``/``.json``."""
from __future__ import annotations

import json
import keyword
import math
from collections.abc import Mapping
from typing import Any

import yaml

_LINE_WIDTH = 79
_SCALARS = (str, bool, int, float, type(None))


def _check_dumpable(value: Any, key_path: str, fmt: str) -> None:
    """Raise TypeError naming the key of the first value ``fmt`` cannot represent."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            sub = f'{key_path}.{k}' if key_path else str(k)
            if fmt == 'json' and not isinstance(k, str):
                # json.dumps would silently turn the key into a str and break the round trip.
                raise TypeError(f'Cannot dump config key {sub!r} to .json: keys must be str, '
                                f'got {type(k).__name__}')
            if fmt != 'json' and not isinstance(k, _SCALARS):
                raise TypeError(f'Cannot dump config key {sub!r} of type {type(k).__name__}')
            _check_dumpable(v, sub, fmt)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_dumpable(v, f'{key_path}.{i}', fmt)
    elif not isinstance(value, _SCALARS):
        raise TypeError(f'Cannot dump config value at {key_path!r} of type '
                        f'{type(value).__name__} to .{fmt}: only dict, list, tuple, str, int, '
                        f'float, bool and None can be written')


def _tuples_to_lists(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _tuples_to_lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tuples_to_lists(v) for v in value]
    return value


def _py_scalar(value: Any, strict: bool) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"  # repr gives inf/nan, which are not Python literals
    if isinstance(value, _SCALARS) or not strict:
        return repr(value)
    raise TypeError(f'cannot write {type(value).__name__} as a Python literal')


def _is_identifier(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def _py_literal(value: Any, indent: int, strict: bool, used: int) -> str:
    """Format ``value`` as Python source: one line if it fits, else one item per line.

    ``indent`` is the indentation of the line the literal starts on and ``used`` how many
    characters of that line come before it.
    """
    if isinstance(value, Mapping):
        as_call = all(_is_identifier(k) for k in value)  # dict(a=1) reads like the configs
        keys = [f'{k}=' if as_call else f'{_py_scalar(k, strict)}: ' for k in value]
        items = [key + _py_literal(v, indent + 4, strict, indent + 4 + len(key))
                 for key, v in zip(keys, value.values())]
        opening, closing = ('dict(', ')') if as_call else ('{', '}')
    elif isinstance(value, (list, tuple)):
        items = [_py_literal(v, indent + 4, strict, indent + 4) for v in value]
        opening, closing = ('[', ']') if isinstance(value, list) else ('(', ')')
        if isinstance(value, tuple) and len(items) == 1:
            items[0] += ','  # (x,) not (x)
    else:
        return _py_scalar(value, strict)
    one_line = opening + ', '.join(items) + closing
    if '\n' not in one_line and used + len(one_line) <= _LINE_WIDTH:
        return one_line
    pad = ' ' * (indent + 4)
    if isinstance(value, (list, tuple)) and not any(
            isinstance(v, (Mapping, list, tuple)) for v in value):
        # Long runs of numbers/strings: fill lines instead of one item per line.
        lines, line = [], ''
        for item in items:
            if line and len(pad) + len(line) + len(item) + 1 > _LINE_WIDTH:
                lines.append(line.rstrip())
                line = ''
            line += item + ', '
        lines.append(line.rstrip())
        return opening + '\n' + ''.join(f'{pad}{ln}\n' for ln in lines) + ' ' * indent + closing
    return opening + '\n' + ''.join(f'{pad}{item},\n' for item in items) + ' ' * indent + closing


def to_py_text(data: Mapping[str, Any], strict: bool = True) -> str:
    """``data`` as ``.py`` source, one ``key = literal`` assignment per top-level key.

    With ``strict=False`` values that are not literals are written with ``repr`` (for
    display) instead of raising TypeError, and any top-level key is accepted.

    Example:
        >>> print(to_py_text({'model': {'type': 'ResNet', 'stages': (1, 2)}}), end='')
        model = dict(type='ResNet', stages=(1, 2))
    """
    lines = []
    for key, value in data.items():
        if strict and (not _is_identifier(key) or key.startswith('_')):
            raise ValueError(f'Cannot dump top-level key {key!r} to .py: it must be a public '
                             f'identifier to be assigned and re-loaded')
        lines.append(f'{key} = {_py_literal(value, 0, strict, len(key) + 3)}\n')
    return ''.join(lines)


def serialize(data: dict[str, Any], fmt: str) -> str:
    """``data`` as the text of a ``fmt`` (``'py'``, ``'yaml'`` or ``'json'``) config file.

    Raises:
        TypeError: a key or value ``fmt`` cannot represent; the message names its key path.
        ValueError: for ``'py'``, a top-level key that is not a public identifier.
    """
    _check_dumpable(data, '', fmt)
    if fmt == 'py':
        return to_py_text(data)
    if fmt == 'yaml':
        return yaml.safe_dump(_tuples_to_lists(data), sort_keys=False, allow_unicode=True,
                              default_flow_style=False)
    return json.dumps(data, indent=4, ensure_ascii=False) + '\n'
