"""``mutator_sub_model``: MMRazor's ``sub_model(mode='mutator')``: build a model and prune it to
a channel-mutator config (a ``fix_subnet`` file such as DMCP's ``DMCP_R50_2G.json`` or DCFF's
``fix_subnet.json``: ``channel_unit_cfg.units[name].choice`` per unit)."""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

from torch import nn

from razor_ext.pruning.algorithms.group_fisher_sub_model import load_structure
from razor_ext.pruning.mutators.channel_mutator import ChannelMutator, sequential_scores
from razor_ext.registry import MODELS

# MMRazor's units that keep the channels of the highest L1 norm; the others it uses in mutator
# subnets (Sequential, DMCP, DCFF, OneShot, Slimmable) keep the first channels.
_L1_UNITS = ('L1MutableChannelUnit', 'GroupFisherChannelUnit')


@MODELS.register_module()
def mutator_sub_model(cfg: Mapping[str, Any] | nn.Module,
                      fix_subnet: Mapping[str, Any] | str | os.PathLike[str],
                      **kwargs: Any) -> nn.Module:
    """The model of ``cfg`` pruned to the unit choices of the mutator config ``fix_subnet``.

    Args:
        cfg: the model or its config. fix_subnet: a mutator config dict or a JSON / YAML file
            holding one (it must have ``channel_unit_cfg``; ``parse_cfg.demo_input`` sets the
            analysis input, default ``(1, 3, 224, 224)``). Other keys of MMRazor's ``sub_model``
            (``mode``, ``init_cfg``, ...) are accepted.

    Returns:
        The physically pruned model (the first channels of each unit, or its highest-L1 ones for
        L1 units).

    Raises:
        FileNotFoundError: naming a missing file. ValueError: no ``channel_unit_cfg``.
        KeyError: a unit name the model does not have (listing the valid ones).

    Example:
        >>> m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3))
        >>> small = mutator_sub_model(m, dict(
        ...     channel_unit_cfg=dict(type='DMCPChannelUnit', units={'0_(0, 8)_8': dict(choice=3)}),
        ...     parse_cfg=dict(type='ChannelAnalyzer', demo_input=(1, 3, 8, 8))))
        >>> small[0].out_channels, bool((small[0].weight == m[0].weight[:3]).all())
        (3, True)
    """
    structure = load_structure(fix_subnet)
    unit_cfg = structure.get('channel_unit_cfg')
    if not isinstance(unit_cfg, Mapping):
        raise ValueError(f'fix_subnet must be a channel-mutator config with channel_unit_cfg '
                         f'(mode="mutator"), got keys {sorted(structure)}')
    model = MODELS.build(dict(cfg)) if isinstance(cfg, Mapping) else cfg
    if not isinstance(model, nn.Module):
        raise TypeError(f'cfg must build an nn.Module, got {type(model).__name__}')
    parse_cfg = {k: v for k, v in dict(structure.get('parse_cfg') or {}).items()
                 if k in ('tracer', 'demo_input')}
    # default_args carry choice_mode: 1 is one channel in 'number' mode, everything in 'ratio'
    mutator = ChannelMutator({'default_args': dict(unit_cfg.get('default_args') or {})},
                             parse_cfg={'type': 'ChannelAnalyzer', **parse_cfg})
    mutator.prepare_from_supernet(model)
    units = dict(unit_cfg.get('units') or {})
    choices = {name: u['choice'] for name, u in units.items()
               if isinstance(u, Mapping) and 'choice' in u}
    for name, choice in list(choices.items()):
        unit = mutator.resolve_names({name: choice})
        (unit_name,) = unit
        limit = mutator._name2unit[unit_name].num_channels
        if isinstance(choice, int) and not isinstance(choice, bool) and choice > limit:
            # MMRazor's sequential units slice a mask of the unit's width, so a larger count
            # keeps every channel (DMCP_MBV2_100M.json asks 693 of a 576-channel unit).
            warnings.warn(f'fix_subnet: unit {name} has {limit} channels, {choice} asked: all '
                          f'kept, as MMRazor does', stacklevel=2)
            choices[name] = limit
    kind = str(unit_cfg.get('type', '')).split('.')[-1]
    mutator.set_choices(choices, scores=None if kind in _L1_UNITS else sequential_scores(mutator))
    static = mutator.to_static(model)
    static.pruning_structure = mutator.current_choices
    return static


__all__ = ['mutator_sub_model']
