"""Save a pruned model as weights + recipe; rebuild it on a fresh original without tracing."""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from torch import nn

from razor_ext.fileio import load_checkpoint, save_checkpoint
from razor_ext.pruning.attention import adapt_attention
from razor_ext.pruning.prune import RECIPE_ATTR, RECIPE_FORMAT
from razor_ext.pruning.removal import apply_changes, gather_state
from razor_ext.registry import WEIGHT_LOADERS


def save_pruned(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Write ``{'format', 'recipe': JSON text, 'state_dict': weights}`` atomically to ``path``.

    The recipe lists the kept indices of every pruned tensor and the attribute changes, so
    :func:`load_pruned` replays them on a freshly built original.

    Example:
        >>> import torch, tempfile, pathlib, razor_ext
        >>> from razor_ext.pruning import save_pruned, load_pruned
        >>> make = lambda: torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
        >>> small = razor_ext.prune(make(), torch.randn(1, 4), ratio=0.5)
        >>> f = pathlib.Path(tempfile.mkdtemp()) / 'p.pt'
        >>> save_pruned(small, f)
        >>> load_pruned(make(), f)[0].out_features
        4
    """
    recipe = getattr(model, RECIPE_ATTR, None)
    if recipe is None:
        raise ValueError('save_pruned: this model carries no pruning recipe (prune it with '
                         'razor_ext.prune, or load it with load_pruned, first)')
    payload = {'format': RECIPE_FORMAT, 'recipe': json.dumps(recipe),
               'state_dict': model.state_dict()}
    save_checkpoint(payload, path)


def _replay(model: nn.Module, recipe: dict[str, Any]) -> None:
    if 'previous' in recipe:
        _replay(model, recipe['previous'])
    if recipe.get('format') != RECIPE_FORMAT:
        raise ValueError(f'unknown pruning recipe format {recipe.get("format")!r}')
    plan = {k: [(int(d), np.asarray(keep, np.int64)) for d, keep in v]
            for k, v in recipe['tensors'].items()}
    gather_state(model, plan)
    apply_changes(model, [(p, a, v) for p, a, v in recipe['attributes']])
    adapt_attention(model)


def load_pruned(model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """Shrink the freshly built original ``model`` (in place) to the saved shapes and load the
    saved weights; returns ``model``. No tracing: the recipe is replayed."""
    payload = load_checkpoint(path)
    replay_pruned(model, payload)
    model.load_state_dict(payload['state_dict'])
    return model


@WEIGHT_LOADERS.register_module(name=RECIPE_FORMAT)
def replay_pruned(model: nn.Module, checkpoint: dict[str, Any]) -> nn.Module:
    """Shrink ``model`` in place to the shapes of a :func:`save_pruned` checkpoint (its recipe),
    without loading the weights: what ``razor_ext.algorithm.load_weights`` runs before it loads
    them, so a pruned checkpoint loads wherever a checkpoint is taken (``float_checkpoint``,
    ``init_cfg``, ``load_from``).

    Example:
        >>> import torch, razor_ext
        >>> make = lambda: torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
        >>> small = razor_ext.prune(make(), torch.randn(1, 4), ratio=0.5)
        >>> ckpt = {'recipe': __import__('json').dumps(small._razor_pruning_recipe)}
        >>> replay_pruned(make(), ckpt)[0].out_features
        4
    """
    if not isinstance(checkpoint, dict) or 'recipe' not in checkpoint:
        raise ValueError('replay_pruned: not a pruned checkpoint (no "recipe"; write one with '
                         'razor_ext.pruning.save_pruned)')
    recipe = json.loads(checkpoint['recipe'])
    _replay(model, recipe)
    setattr(model, RECIPE_ATTR, recipe)
    return model
