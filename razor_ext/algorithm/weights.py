"""``load_weights``: the one loader behind every place that takes a checkpoint (``load_from``,
``--resume``, ``init_cfg=dict(type='Pretrained')``, ``teacher_ckpt``, ``float_checkpoint``,
``razor-ext export --checkpoint``).

It reads the file with ``weights_only=True`` (:func:`razor_ext.fileio.load_checkpoint`), takes
the state dict out of it (``state_dict`` / ``model`` / the file itself), and fits its keys to
the module: a prefix the checkpoint has and the module has not (``architecture.``, ``student.``,
``teacher.``, ``module.``) is dropped, one the module has is added, and mask parametrizations
(``conv.parametrizations.weight.original``) match their plain names (``conv.weight``). A
checkpoint that carries a replayable recipe (a physically pruned model) is first replayed on the
module by the loader registered for its ``format`` in ``WEIGHT_LOADERS``. Whatever still does
not fit raises a one-line :class:`WeightsMismatchError` naming the missing and unexpected keys
and the shapes that differ.

Example:
    >>> import torch
    >>> from torch import nn
    >>> src = nn.Sequential(nn.Linear(2, 3))
    >>> wrapped = {'state_dict': {'architecture.' + k: v for k, v in src.state_dict().items()}}
    >>> dst = load_weights(nn.Sequential(nn.Linear(2, 3)), wrapped)
    >>> torch.equal(dst[0].weight, src[0].weight)
    True
    >>> load_weights(nn.Sequential(nn.Linear(2, 4)), wrapped)
    Traceback (most recent call last):
    ...
    razor_ext.algorithm.weights.WeightsMismatchError: the checkpoint does not fit Sequential: shape mismatch: 0.weight checkpoint (3, 2) vs model (4, 2), 0.bias checkpoint (3,) vs model (4,)
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from razor_ext.fileio import CheckpointError, load_checkpoint
from razor_ext.registry import WEIGHT_LOADERS

__all__ = ['PREFIXES', 'WeightsMismatchError', 'load_weights', 'state_dict_of']

PREFIXES = ('architecture.', 'student.', 'teacher.', 'module.', 'model.')
_PARAMETRIZED = re.compile(r'parametrizations\.([^.]+)\.original\d*$')
# State of a parametrization itself (a pruning mask): run-time state, not weights, so a
# checkpoint of the plain network may lack it.
_PARAMETRIZATION_STATE = re.compile(r'(^|\.)parametrizations\.[^.]+\.\d+\.')


class WeightsMismatchError(CheckpointError):
    """The checkpoint's keys or shapes do not fit the module (one line, names them)."""


def state_dict_of(checkpoint: Any) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint: under ``state_dict`` or ``model``, or the file itself.

    Example:
        >>> import torch
        >>> list(state_dict_of({'meta': {}, 'state_dict': {'w': torch.ones(1)}}))
        ['w']
    """
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f'a checkpoint is a dict, got {type(checkpoint).__name__}')
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), Mapping):
            return dict(checkpoint[key])
    if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return dict(checkpoint)
    raise CheckpointError(f'the checkpoint holds no state dict (keys: {", ".join(list(checkpoint)[:6])})')


def _plain(key: str) -> str:
    return _PARAMETRIZED.sub(r'\1', key)


def _fits(src: dict[str, Any], strip: str, add: str) -> dict[str, Any]:
    if strip:
        src = {k[len(strip):]: v for k, v in src.items() if k.startswith(strip)}
    return {add + k: v for k, v in src.items()}


def _best_mapping(src: dict[str, Any], target: set[str], prefix: str | None) -> dict[str, Any]:
    """Source keys renamed to the target's by the prefix change that matches most keys."""
    strips = ('',) + PREFIXES if prefix is None else (prefix,)
    options = [(s, a) for s in strips for a in ('',) + PREFIXES]
    best, best_rank = src, None
    for strip, add in options:
        mapped = _fits(src, strip, add)
        hits = len(target.intersection(mapped))
        rank = (hits, -len(set(mapped) - target), strip == '' and add == '')
        if best_rank is None or rank > best_rank:
            best, best_rank = mapped, rank
    # Nothing fits under any prefix: report the keys as they are, not an emptied selection.
    return best if best_rank and best_rank[0] else src


def _resizes_on_load(module: nn.Module, key: str) -> bool:
    """Whether the module owning ``key`` resizes it while loading (per-channel qparams sized by
    calibration override ``_load_from_state_dict`` to do so): not a mismatch then."""
    path = key.rpartition('.')[0]
    try:
        owner = module.get_submodule(path) if path else module
    except AttributeError:
        return False
    return type(owner)._load_from_state_dict is not nn.Module._load_from_state_dict


def _shorten(keys: list[str], limit: int = 4) -> str:
    more = f' (+{len(keys) - limit} more)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def _recipe_target(module: nn.Module, checkpoint: Mapping[str, Any]) -> nn.Module:
    """The module a recipe's tensor names refer to: ``module`` or its ``architecture``."""
    arch = getattr(module, 'architecture', None)
    keys = set(state_dict_of(checkpoint))
    if isinstance(arch, nn.Module) and not keys & set(module.state_dict()):
        return arch
    return module


def load_weights(module: nn.Module, source: str | os.PathLike[str] | Mapping[str, Any], *,
                 prefix: str | None = None, strict: bool = True,
                 name: str | None = None) -> nn.Module:
    """Load the weights of ``source`` (a checkpoint file, a checkpoint dict or a state dict)
    into ``module`` in place, fitting prefixes as the module docstring says; returns ``module``.

    Args:
        module: the model or algorithm to fill.
        source: a file written by any razor_ext command (or a ``{'state_dict': ...}`` file of
            MMRazor / MMEngine), or an already loaded dict.
        prefix: take only the keys under this prefix (e.g. ``'teacher.'``); default: the prefix
            change that fits most keys.
        strict: raise :class:`WeightsMismatchError` on missing or unexpected keys (shape
            mismatches always raise).
        name: what to call ``source`` in errors (default: its path).

    Raises:
        FileNotFoundError, CheckpointError, WeightsMismatchError.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f'load_weights: module must be an nn.Module, got {type(module).__name__}')
    is_file = isinstance(source, (str, os.PathLike))
    if name is None:
        name = f'checkpoint {Path(source)}' if is_file else 'the checkpoint'
    else:
        name = f'checkpoint {name}'
    checkpoint = load_checkpoint(source) if is_file else source
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f'{name} is not a dict (a {type(checkpoint).__name__})')
    kind = checkpoint.get('format')
    if isinstance(kind, str) and kind in WEIGHT_LOADERS:
        # A recipe (e.g. pruned shapes) to replay on the freshly built module before the weights.
        WEIGHT_LOADERS.get(kind)(_recipe_target(module, checkpoint), checkpoint)
    src = state_dict_of(checkpoint)
    own = module.state_dict()
    plain_to_own = {_plain(k): k for k in own}
    mapped = _best_mapping({_plain(k): v for k, v in src.items()}, set(plain_to_own), prefix)
    missing = sorted(k for k in plain_to_own if k not in mapped
                     and not _PARAMETRIZATION_STATE.search(k))
    unexpected = sorted(k for k in mapped if k not in plain_to_own)
    shapes = [f'{k} checkpoint {tuple(v.shape)} vs model {tuple(own[plain_to_own[k]].shape)}'
              for k, v in mapped.items() if k in plain_to_own and isinstance(v, torch.Tensor)
              and v.shape != own[plain_to_own[k]].shape
              and not _resizes_on_load(module, plain_to_own[k])]
    problems = []
    if strict and missing:
        problems.append(f'missing keys: {_shorten(missing)}')
    if strict and unexpected:
        problems.append(f'unexpected keys: {_shorten(unexpected)}')
    if shapes:
        problems.append(f'shape mismatch: {_shorten(shapes, 2)}')
    if problems:
        raise WeightsMismatchError(f'{name} does not fit {type(module).__name__}: '
                                   + '; '.join(problems))
    state = {plain_to_own[k]: v for k, v in mapped.items() if k in plain_to_own}
    module.load_state_dict(state, strict=False)
    return module
