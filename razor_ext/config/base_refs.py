"""MMEngine's references to base values inside a config body: ``_base_.model`` in ``.py`` files
and ``{{_base_.train_pipeline}}`` in ``.py``, ``.yaml`` and ``.json`` files.

A ``.py`` config is compiled with every *read* of the name ``_base_`` redirected to a view of its
merged bases (the assignment ``_base_ = [...]`` still lists the files), so ``_base_.model.backbone``
is a deep copy of the base value with attribute access. In ``.yaml``/``.json`` files a
``{{_base_.x.y}}`` (quoted or not) is swapped for a marker string before parsing, and each marker
is replaced by a copy of the base value after the bases are loaded.

Example:
    >>> import yaml
    >>> resolve_markers(yaml.safe_load(parse_markers('lr: {{_base_.optim.lr}}\\n')),
    ...                 {'optim': {'lr': 0.1}}, 'x.yaml')
    {'lr': 0.1}
"""
from __future__ import annotations

import ast
import copy
import re
from collections.abc import Mapping
from typing import Any

from razor_ext.config.config_dict import ConfigDict, missing_key_message

BASE_VIEW_NAME = '__razor_base_view__'
_MARKER = '__razor_base_ref__:'
# An optional quote on both sides, so '"{{_base_.x}}"' and '{{_base_.x}}' become the same marker.
_TEMPLATE = re.compile(r'([\'"]?)\{\{\s*_base_\.([\w.]+)\s*\}\}\1')


def parse_markers(text: str) -> str:
    """Replace each ``{{_base_.x}}`` in ``.yaml``/``.json`` text by a quoted marker string."""
    return _TEMPLATE.sub(lambda m: f'"{_MARKER}{m.group(2)}"', text)


def lookup(base: Mapping[str, Any], dotted: str, filename: str) -> Any:
    """A deep copy of the value at ``dotted`` (``'model.backbone'``, ``'pipeline.0'``) in ``base``.

    Raises:
        KeyError: a part of the path is missing; the message names the file and the known keys.
    """
    node: Any = base
    walked: list[str] = []
    for part in dotted.split('.'):
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            owner = '_base_' + ''.join(f'.{w}' for w in walked)
            keys = list(node) if isinstance(node, Mapping) else []
            raise KeyError(f'{filename}: {missing_key_message(owner, part, keys)}')
        walked.append(part)
    return copy.deepcopy(node)


def resolve_markers(data: Any, base: Mapping[str, Any], filename: str) -> Any:
    """``data`` with every marker string left by :func:`parse_markers` replaced by its base value."""
    if not isinstance(data, Mapping):
        raise TypeError(f'resolve_markers expects the parsed mapping, got {type(data).__name__}')
    return _resolve(data, base, filename)


def _resolve(value: Any, base: Mapping[str, Any], filename: str) -> Any:
    if isinstance(value, str) and value.startswith(_MARKER):
        return lookup(base, value[len(_MARKER):], filename)
    if isinstance(value, Mapping):
        return {k: _resolve(v, base, filename) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, base, filename) for v in value]
    return value


def py_bases(tree: ast.Module) -> Any:
    """The literal value of the top-level ``_base_ = ...`` assignment of a parsed ``.py`` config,
    or None when it has none. Raises ValueError when it is not a literal (a str or a list of str)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_' for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError as err:
                raise ValueError(f'line {node.lineno}: _base_ must be a literal path or list of '
                                 f'paths') from err
    return None


class _ReadsOfBase(ast.NodeTransformer):
    """Point loads of ``_base_`` at the base view; stores (``_base_ = [...]``) stay."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == '_base_' and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Name(id=BASE_VIEW_NAME, ctx=ast.Load()), node)
        return node


def py_source_for_bases(text: str) -> str:
    """``.py`` text with ``{{_base_.x}}`` written as the expression ``_base_.x``."""
    return _TEMPLATE.sub(lambda m: f'_base_.{m.group(2)}', text)


def redirect_base_reads(tree: ast.Module) -> ast.Module:
    """``tree`` with every read of ``_base_`` reading :data:`BASE_VIEW_NAME` instead."""
    return ast.fix_missing_locations(_ReadsOfBase().visit(tree))


def base_view(base: Mapping[str, Any]) -> ConfigDict:
    """The object ``_base_`` reads in a ``.py`` config body: a deep copy with attribute access."""
    return ConfigDict(copy.deepcopy(dict(base)))
