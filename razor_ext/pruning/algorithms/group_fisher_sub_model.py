"""MMRazor's two ways to turn a Group Fisher result into a static pruned model:
``GroupFisherSubModel`` (finetune: from a pruning algorithm and its checkpoint) and
``GroupFisherDeploySubModel`` (deploy: from an architecture and a pruning structure, the channel
count or kept ratio per unit, given as a dict or a JSON / YAML file)."""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from razor_ext.algorithm.base_algorithm import BaseAlgorithm
from razor_ext.pruning.mutators.channel_mutator import ChannelMutator, sequential_scores
from razor_ext.registry import MODELS


def load_structure(fix_subnet: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """The pruning structure ``{unit name: channels (int) or kept ratio (float)}``, from a dict or
    a ``.json`` / ``.yaml`` file (MMRazor's ``fix_subnet.json``).

    Raises:
        FileNotFoundError: naming the missing file. TypeError / ValueError: not a dict.

    Example:
        >>> load_structure({'backbone.conv1_(0, 64)_64': 48})
        {'backbone.conv1_(0, 64)_64': 48}
    """
    if isinstance(fix_subnet, (str, os.PathLike)):
        path = Path(fix_subnet)
        if not path.is_file():
            raise FileNotFoundError(f'fix_subnet: pruning-structure file {str(path)!r} does not '
                                    f'exist (expected a JSON or YAML dict of unit name -> '
                                    f'channels or kept ratio, as MMRazor writes fix_subnet.json)')
        text = path.read_text()
        if path.suffix in ('.yaml', '.yml'):
            import yaml
            fix_subnet = yaml.safe_load(text)
        else:
            fix_subnet = json.loads(text)
    if not isinstance(fix_subnet, Mapping):
        raise TypeError(f'fix_subnet must be a dict of unit name -> channels or a path to one, '
                        f'got {type(fix_subnet).__name__}')
    return dict(fix_subnet)


@MODELS.register_module()
def GroupFisherDeploySubModel(architecture: nn.Module | Mapping[str, Any],  # noqa: N802
                              fix_subnet: Mapping[str, Any] | str | None = None, divisor: int = 1,
                              parse_cfg: Mapping[str, Any] | None = None,
                              data_preprocessor: Any = None, **kwargs: Any) -> nn.Module:
    """The architecture pruned to ``fix_subnet``, as MMRazor's deploy sub-model: every unit keeps
    its **first** ``n`` channels (int) or ``ratio * channels`` (float), as MMRazor's
    ``SequentialMutableChannelUnit``, so the weights of a pruned checkpoint load straight into it.

    Args:
        architecture: the model or its config. fix_subnet: unit name (razor_ext's or MMRazor's
            ``"<layer>_(start, end)_<n>"``) -> channels / kept ratio, or a JSON / YAML file.
        divisor: kept for ``make_channel_divisible`` (see ``docs/mmrazor_compat.md``).
        parse_cfg: the channel analysis config (default: ``ChannelAnalyzer`` on 1x3x224x224).
        data_preprocessor: set on the returned model when it has none.

    Returns:
        The physically pruned model (a new module; channels removed).

    Example:
        >>> m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3))
        >>> small = GroupFisherDeploySubModel(m, {'0_(0, 8)_8': 3},
        ...     parse_cfg=dict(type='ChannelAnalyzer', demo_input=(1, 3, 8, 8)))
        >>> small[0].out_channels, bool((small[0].weight == m[0].weight[:3]).all())
        (3, True)
    """
    if isinstance(architecture, Mapping):
        architecture = MODELS.build(dict(architecture))
    if not isinstance(architecture, nn.Module):
        raise TypeError(f'architecture must be an nn.Module or a config dict, got '
                        f'{type(architecture).__name__}')
    if not isinstance(divisor, int) or divisor < 1:
        raise ValueError(f'divisor must be a positive int, got {divisor!r}')
    structure = load_structure({} if fix_subnet is None else fix_subnet)
    parse_cfg = {k: v for k, v in dict(parse_cfg or {}).items()
                 if k in ('type', 'tracer', 'demo_input')}
    mutator = ChannelMutator(parse_cfg={'type': 'ChannelAnalyzer', **parse_cfg})
    mutator.prepare_from_supernet(architecture)
    mutator.set_choices(structure, scores=sequential_scores(mutator))
    static = mutator.to_static(architecture)
    if data_preprocessor is not None and getattr(static, 'data_preprocessor', None) is None:
        static.data_preprocessor = (MODELS.build(dict(data_preprocessor))
                                    if isinstance(data_preprocessor, Mapping) else data_preprocessor)
    static.pruning_structure = mutator.current_choices
    return static


def _sync_kept_from_masks(mutator: ChannelMutator) -> None:
    """Set each unit's kept channels from the masks (as loaded from a pruning checkpoint): an atom
    is removed when any of its coupled channels is masked to 0."""
    removed = np.zeros(mutator.analysis.resolved.final.size, bool)
    for mask, final in mutator._masks.values():
        np.logical_or.at(removed, final, (mask.detach().cpu().numpy() == 0))
    for unit in mutator.units:
        unit.kept[:] = ~removed[unit.unit.atoms]
        if not unit.kept.any():
            raise ValueError(f'the checkpoint masks every channel of unit {unit.name}')
        unit.current_choice = int(unit.kept.sum()) * unit.divisor
    mutator._update_masks()


@MODELS.register_module()
def GroupFisherSubModel(algorithm: BaseAlgorithm | Mapping[str, Any],  # noqa: N802
                        divisor: int = 1, **kwargs: Any) -> nn.Module:
    """The static pruned architecture of a pruning algorithm, as MMRazor's finetune sub-model:
    build the algorithm, load its ``init_cfg`` checkpoint (the masks of a Group Fisher run), and
    remove the masked channels physically.

    Without a checkpoint nothing is masked and the result has the full architecture's shape.

    Args:
        algorithm: a ``GroupFisherAlgorithm`` / ``ItePruneAlgorithm`` (anything with a
            ``mutator`` and ``to_static``) or its config.
        divisor: kept for ``make_channel_divisible`` (see ``docs/mmrazor_compat.md``).

    Returns:
        The pruned architecture, with the algorithm's ``data_preprocessor``.

    Example:
        >>> from razor_ext.pruning import GroupFisherAlgorithm
        >>> algo = GroupFisherAlgorithm(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(),
        ...     nn.Conv2d(8, 4, 3)), example_inputs=torch.randn(1, 3, 8, 8))
        >>> _ = algo.prune_one()
        >>> GroupFisherSubModel(algo)[0].out_channels
        7
    """
    if isinstance(algorithm, Mapping):
        algorithm = MODELS.build(dict(algorithm))
    if not isinstance(algorithm, BaseAlgorithm) or not hasattr(algorithm, 'mutator'):
        raise TypeError(f'algorithm must be a pruning algorithm with a channel mutator (e.g. '
                        f'GroupFisherAlgorithm) or its config, got {type(algorithm).__name__}')
    if not isinstance(divisor, int) or divisor < 1:
        raise ValueError(f'divisor must be a positive int, got {divisor!r}')
    if algorithm.init_cfg is not None:
        algorithm.init_weights()
        _sync_kept_from_masks(algorithm.mutator)
    static = algorithm.to_static()
    static.data_preprocessor = algorithm.data_preprocessor
    static.pruning_structure = algorithm.mutator.current_choices
    return static


__all__ = ['GroupFisherDeploySubModel', 'GroupFisherSubModel', 'load_structure']
