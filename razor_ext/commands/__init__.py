"""What each ``razor-ext`` command does, one module per command, so ``razor_ext.cli`` stays a
thin parser: ``run_config`` (train / search / prune / distill / quantize: run a config, then
leave its result in the work dir and print where), ``export_config``, ``list_configs``.

Names are imported on first use, so ``razor-ext --help`` does not load the engine.

Example:
    >>> from razor_ext.commands import list_configs
    >>> names = list_configs('ptq')  # doctest: +ELLIPSIS
    razor_ext::quantization/ptq_int8_mnist5k.py
    ...
"""
from __future__ import annotations

import importlib
from typing import Any

from razor_ext.commands.errors import CommandError

_NAMES = {'Outputs': 'outputs', 'check_device': 'run', 'export_config': 'export',
          'list_configs': 'listing', 'load_cfg': 'loading', 'parse_cfg_options': 'loading',
          'run_config': 'run', 'write_outputs': 'outputs'}

__all__ = ['CommandError', *sorted(_NAMES)]


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(f'razor_ext.commands.{_NAMES[name]}'), name)
    raise AttributeError(f'module razor_ext.commands has no attribute {name!r}')
