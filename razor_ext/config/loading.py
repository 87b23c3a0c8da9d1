"""Loading config files: parsing ``.py``/``.yaml``/``.json`` and resolving ``_base_``."""
from __future__ import annotations

import ast
import json
import os
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from razor_ext.config.base_refs import (BASE_VIEW_NAME, base_view, parse_markers, py_bases,
                                        py_source_for_bases, redirect_base_reads, resolve_markers)
from razor_ext.config.openmmlab_scopes import check_supported_scope
from razor_ext.config.scopes import resolve_config_path

BASE_KEY = '_base_'
DELETE_KEY = '_delete_'
_FORMATS = {'.py': 'py', '.yaml': 'yaml', '.yml': 'yaml', '.json': 'json'}


class ConfigParseError(ValueError):
    """A config file could not be parsed; ``filename`` and ``lineno`` say where.

    Example:
        >>> err = ConfigParseError('exp.yaml', 3, 'mapping values are not allowed here')
        >>> str(err)
        'exp.yaml:3: mapping values are not allowed here'
    """

    def __init__(self, filename: str, lineno: int | None, msg: str) -> None:
        self.filename = filename
        self.lineno = lineno
        self.msg = msg
        where = f'{filename}:{lineno}' if lineno is not None else filename
        super().__init__(f'{where}: {msg}')

    def __reduce__(self) -> tuple[Any, ...]:
        # The default reduce would call __init__ with the single formatted message.
        return type(self), (self.filename, self.lineno, self.msg)


def format_of(path: Path) -> str:
    """The config format (``'py'``, ``'yaml'`` or ``'json'``) of ``path``'s extension.

    Raises:
        ValueError: the extension is not a config format.
    """
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f'Unsupported config file extension {path.suffix!r} for {path}; '
                         f'expected one of {sorted(_FORMATS)}')
    return fmt


def _parse_py(path: Path, text: str, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run a ``.py`` config; reads of ``_base_`` in its body see ``base`` (its merged bases)."""
    try:
        tree = ast.parse(py_source_for_bases(text), str(path))
        code = compile(redirect_base_reads(tree), str(path), 'exec')
    except SyntaxError as err:
        raise ConfigParseError(str(path), err.lineno, f'SyntaxError: {err.msg}') from err
    namespace: dict[str, Any] = {'__file__': str(path), '__name__': '__razor_ext_config__',
                                 BASE_VIEW_NAME: base_view(base or {})}
    try:
        exec(code, namespace)
    except Exception as err:
        # Report the deepest line of the config file itself (not of a library it called).
        lineno = None
        tb = err.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == str(path):
                lineno = tb.tb_lineno
            tb = tb.tb_next
        raise ConfigParseError(str(path), lineno, f'{type(err).__name__}: {err}') from err
    # As MMEngine, the body may change its bases through ``_base_`` (``_base_.optim_wrapper =
    # dict(...)`` replaces the inherited value; MMRazor's DMCP subnets do): those changes are
    # what this file merges onto.
    if base is not None and isinstance(base, dict):
        base.clear()
        base.update(namespace[BASE_VIEW_NAME].to_dict())
    # Imported modules, helper functions and classes are tools for writing the config, and
    # private names are scratch variables: none of them is config content.
    return {
        k: v for k, v in namespace.items()
        if (k == BASE_KEY or not k.startswith('_')) and not isinstance(
            v, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type))
    }


def _py_bases(path: Path, text: str) -> Any:
    """The ``_base_`` list of a ``.py`` config, read before running it (its body may read bases)."""
    try:
        return py_bases(ast.parse(py_source_for_bases(text), str(path)))
    except SyntaxError as err:
        raise ConfigParseError(str(path), err.lineno, f'SyntaxError: {err.msg}') from err
    except ValueError as err:
        raise ConfigParseError(str(path), None, str(err)) from err


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        lineno = mark.line + 1 if mark is not None else None
        msg = ' '.join(p for p in (err.context, err.problem) if p) or str(err)
        raise ConfigParseError(str(path), lineno, f'YAML error: {msg}') from err
    except yaml.YAMLError as err:
        raise ConfigParseError(str(path), None, f'YAML error: {err}') from err


def _parse_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigParseError(str(path), err.lineno,
                               f'JSON error: {err.msg} (column {err.colno})') from err


_PARSERS = {'py': _parse_py, 'yaml': _parse_yaml, 'json': _parse_json}


def merge(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``child`` into a copy of ``base``; the child wins.

    A child dict with ``_delete_=True`` replaces the base value instead of merging into it.
    Lists and scalars replace. Neither input is mutated.

    Example:
        >>> merge({'a': {'x': 1, 'y': 2}}, {'a': {'y': 3}})
        {'a': {'x': 1, 'y': 3}}
        >>> merge({'a': {'x': 1, 'y': 2}}, {'a': {'_delete_': True, 'y': 3}})
        {'a': {'y': 3}}
    """
    merged = dict(base)
    for key, value in child.items():
        if key == DELETE_KEY:
            continue
        if isinstance(value, Mapping):
            delete = bool(value.get(DELETE_KEY, False))
            old = merged.get(key)
            if not delete and isinstance(old, Mapping):
                merged[key] = merge(old, value)
            else:
                merged[key] = _strip_delete(value)
        else:
            merged[key] = value
    return merged


def _strip_delete(value: Any) -> Any:
    """Remove ``_delete_`` markers that have no base to act on."""
    if isinstance(value, Mapping):
        return {k: _strip_delete(v) for k, v in value.items() if k != DELETE_KEY}
    return value


def _load_bases(path: Path, bases: Any, chain: tuple[Path, ...]) -> dict[str, Any]:
    if bases is None:
        return {}
    if isinstance(bases, (str, os.PathLike)):
        bases = [bases]
    if not isinstance(bases, (list, tuple)) or not all(
            isinstance(b, (str, os.PathLike)) for b in bases):
        raise TypeError(f'{path}: _base_ must be a path or a list of paths, got {bases!r}')
    merged: dict[str, Any] = {}
    for base in bases:
        check_supported_scope(base)
        # Later bases override earlier ones, as in a chain.
        merged = merge(merged, load(resolve_config_path(base, path.parent), (*chain, path)))
    return merged


def load(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """Parse ``path`` and resolve its ``_base_`` files (relative to ``path``'s folder, or in a
    registered scope: ``'mmcls::_base_/x.py'``) and its references to base values
    (``_base_.x`` in ``.py``, ``{{_base_.x}}`` in any format).

    ``chain`` is the files that led here through ``_base_``; it detects cycles and names the
    file that asked for a missing base. Start with ``()``.
    """
    fmt = format_of(path)
    if path in chain:
        cycle = ' -> '.join(str(p) for p in (*chain[chain.index(path):], path))
        raise ValueError(f'Circular _base_ inheritance: {cycle}')
    if not path.is_file():
        via = f' (a _base_ of {chain[-1]})' if chain else ''
        raise FileNotFoundError(2, f'Config file not found: {path}{via}', str(path))
    text = path.read_text(encoding='utf-8')
    if fmt == 'py':
        merged = _load_bases(path, _py_bases(path, text), chain)
        raw = _parse_py(path, text, merged)
    else:
        raw = _PARSERS[fmt](path, parse_markers(text))
        merged = None
    if raw is None:  # an empty yaml file
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigParseError(str(path), 1, f'the top level of a config must be a mapping, '
                                             f'got {type(raw).__name__}')
    raw = dict(raw)
    bases = raw.pop(BASE_KEY, None)
    if merged is None:
        merged = _load_bases(path, bases, chain)
        raw = resolve_markers(raw, merged, str(path))
    if bases is None:
        return _strip_delete(raw)
    return merge(merged, raw)
