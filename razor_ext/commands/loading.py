"""Load the config a command runs: a file path or a scoped name (``razor_ext::...``), the
``--cfg-options`` overrides and the command-line keys (work dir, resume, device, seed)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from razor_ext.commands.errors import CommandError
from razor_ext.config import Config
from razor_ext.config.scopes import resolve_config_path, split_scope


def parse_cfg_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``['a.b=1', 'c=x']`` -> ``{'a.b': 1, 'c': 'x'}`` (values parsed as JSON when they are JSON).

    Example:
        >>> parse_cfg_options(['train_cfg.max_epochs=1', 'load_from=w/best.pth'])
        {'train_cfg.max_epochs': 1, 'load_from': 'w/best.pth'}
    """
    options = {}
    for pair in pairs:
        key, sep, raw = pair.partition('=')
        if not sep or not key:
            raise CommandError(f'--cfg-options expects key=value, got {pair!r}',
                               'e.g. --cfg-options train_cfg.max_epochs=1')
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            # MMEngine's DictAction spellings, used in MMRazor's docs: None, True, False.
            value = {'None': None, 'True': True, 'False': False}.get(raw, raw)
        options[key] = value
    return options


def config_file(config: str) -> Path:
    """The file a command-line config names (a path, or ``razor_ext::classification/x.py``)."""
    scope, _ = split_scope(config)
    try:
        path = resolve_config_path(config)
    except ValueError as err:
        raise CommandError(str(err), 'razor-ext configs lists the shipped ones') from None
    if not path.is_file():
        hint = ('razor-ext configs lists the shipped ones' if scope
                else 'shipped configs: razor-ext configs (use them as razor_ext::<name>)')
        raise CommandError(f'config file {config} does not exist', hint)
    return path


def load_cfg(config: str, cfg_options: Sequence[str] = (), work_dir: str | None = None,
             resume: bool = False, device: str | None = None, seed: int | None = None) -> Config:
    """The config a command runs, with the command line applied on top.

    The default work dir is ``work_dirs/<config name>`` under the current directory.
    """
    path = config_file(config)
    cfg = Config.fromfile(str(path))
    if cfg_options:
        cfg.merge_from_dict(parse_cfg_options(cfg_options))
    if work_dir:
        cfg['work_dir'] = work_dir
    elif not cfg.get('work_dir'):
        cfg['work_dir'] = str(Path('work_dirs') / path.stem)
    if resume:
        cfg['resume'] = True
    if device:
        cfg['device'] = device
    if seed is not None:
        cfg.setdefault('randomness', {})
        cfg['randomness']['seed'] = seed
    return cfg
