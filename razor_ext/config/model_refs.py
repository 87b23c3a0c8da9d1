"""Model dicts that name a whole config of another package, as MMRazor's KD and pruning configs
build teachers and students: ``dict(cfg_path='mmcls::resnet/resnet18_8xb32_in1k.py',
pretrained=False)`` becomes that config's ``model`` dict (built in the config's ``default_scope``),
with the dict's other keys as defaults under it.

Example:
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / 'r18.py').write_text("model = dict(type='ImageClassifier', neck=None)\\n")
    >>> expand_cfg_paths({'teacher': {'cfg_path': str(d / 'r18.py'), 'pretrained': False}}, d)
    {'teacher': {'type': 'ImageClassifier', 'neck': None}}
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from razor_ext.config.loading import load, merge
from razor_ext.config.openmmlab_scopes import check_supported_scope
from razor_ext.config.scopes import resolve_config_path

CFG_PATH_KEY = 'cfg_path'


def expand_cfg_paths(data: Any, relative_to: Path) -> Any:
    """``data`` with every dict holding ``cfg_path`` (and no ``type``) replaced by the ``model``
    of the config it names (a path relative to ``relative_to``, or ``scope::path``).

    ``pretrained=True`` asks MMRazor to download the model's checkpoint; razor_ext runs offline,
    so it warns and keeps the random initialisation (give weights with ``init_cfg`` or
    ``teacher_ckpt``).

    Raises:
        KeyError: the named config has no ``model``.
    """
    if isinstance(data, Mapping):
        if CFG_PATH_KEY in data and 'type' not in data:
            return _expand_one(data, relative_to)
        return {k: expand_cfg_paths(v, relative_to) for k, v in data.items()}
    if isinstance(data, list):
        return [expand_cfg_paths(v, relative_to) for v in data]
    return data


def _expand_one(ref: Mapping[str, Any], relative_to: Path) -> dict[str, Any]:
    extra = {k: v for k, v in ref.items() if k not in (CFG_PATH_KEY, 'pretrained')}
    cfg_path = ref[CFG_PATH_KEY]
    check_supported_scope(cfg_path)
    path = resolve_config_path(cfg_path, relative_to)
    loaded = load(path, ())
    if not isinstance(loaded.get('model'), Mapping):
        raise KeyError(f'cfg_path={cfg_path!r}: {path} has no model dict')
    if ref.get('pretrained'):
        warnings.warn(f'cfg_path={cfg_path!r} with pretrained=True: razor_ext does not download '
                      f'checkpoints; the model keeps its random initialisation (load weights '
                      f'with init_cfg=dict(type="Pretrained", checkpoint=...) instead)',
                      UserWarning, stacklevel=3)
    model = merge(extra, loaded['model'])
    scope = loaded.get('default_scope')
    if isinstance(scope, str) and '_scope_' not in model:
        model['_scope_'] = scope
    return expand_cfg_paths(model, path.parent)
