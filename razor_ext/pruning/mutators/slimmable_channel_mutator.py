"""``SlimmableChannelMutator``: the fixed set of slimmable subnets AutoSlim / Slimmable Networks
deploy, read from MMRazor's channel-unit JSON.

The file holds one entry per channel unit, named ``"<first module>_(start, end)_<channels>"``,
with ``init_args.candidate_choices`` (one channel count per subnet; every unit lists the same
number) and a current ``choice``. Subnet ``i`` takes the ``i``-th candidate of every unit; like
MMRazor's slimmable units, a subnet keeps each unit's *leading* channels, so one set of weights
serves every width.
"""
from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from razor_ext.pruning.mutators.channel_mutator import ChannelMutator
from razor_ext.analysis import Analysis
from razor_ext.registry import MODELS

__all__ = ['SlimmableChannelMutator', 'SlimmableChannelUnit', 'leading_channels_first']


def leading_channels_first(analysis: Analysis, model: nn.Module) -> np.ndarray:
    """Atom scores that rank each unit's channels by position (first channel highest), so a
    width choice keeps the leading channels (slimmable weight sharing)."""
    scores = np.zeros(analysis.resolved.final.size, np.float64)
    for unit in analysis.units:
        scores[unit.atoms] = -np.arange(unit.atoms.size, dtype=np.float64)
    return scores


def load_units(units: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """The unit dict of a channel-unit config: itself, or read from a JSON file."""
    if isinstance(units, (str, os.PathLike)):
        path = Path(units)
        if not path.is_file():
            raise FileNotFoundError(f'channel unit file {str(path)!r} does not exist')
        units = json.loads(path.read_text())
    if not isinstance(units, Mapping):
        raise TypeError(f'units must be a dict or a JSON file path, got {type(units).__name__}')
    return dict(units)


@MODELS.register_module()
class SlimmableChannelUnit:
    """Config name of MMRazor's slimmable unit (``channel_unit_cfg=dict(type=
    'SlimmableChannelUnit', units=...)``): a unit in ``'number'`` mode whose candidate widths
    keep leading channels. The units themselves are :class:`MutableChannelUnit` objects built by
    :class:`SlimmableChannelMutator`; this class only names the type in configs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError('SlimmableChannelUnit is built by SlimmableChannelMutator from '
                        "channel_unit_cfg=dict(type='SlimmableChannelUnit', units=...)")


@MODELS.register_module()
class SlimmableChannelMutator(ChannelMutator):
    """Channel units with a fixed list of subnets (one per candidate index).

    Args:
        channel_unit_cfg: ``dict(type='SlimmableChannelUnit', units=<dict or JSON path>)`` in
            MMRazor's channel-unit format; ``default_args`` apply to units the file omits.
        parse_cfg: ``dict(type='ChannelAnalyzer', demo_input=(1, 3, 224, 224))``; MMRazor's
            ``tracer_type`` is accepted and ignored (the analyzer picks its tracer).
        deploy_index: when >= 0, ``prepare_from_supernet`` sets subnet ``deploy_index`` (and
            :meth:`to_static` then gives it as a plain model).

    Attributes:
        subnets: ``[{unit name: channels}, ...]``, one dict per candidate index.
        max_choices / min_choices: the widest / narrowest subnet, so that AutoSlim's sandwich
            rule (:class:`~razor_ext.nas.AutoSlim`) trains these subnets.

    Raises:
        KeyError: the file names a unit the model does not have (the message lists them).
        ValueError: units list different numbers of candidates, or a candidate is out of range.

    Example:
        >>> mutator = SlimmableChannelMutator(
        ...     channel_unit_cfg=dict(type='SlimmableChannelUnit', units='MBV2_slimmable.json'),
        ...     parse_cfg=dict(type='ChannelAnalyzer', demo_input=(1, 3, 224, 224)))  # doctest: +SKIP
        >>> mutator.prepare_from_supernet(model)  # doctest: +SKIP
        >>> small = mutator.deploy(0)  # doctest: +SKIP
    """

    def __init__(self, channel_unit_cfg: Mapping[str, Any] | None = None,
                 parse_cfg: Mapping[str, Any] | None = None, deploy_index: int = -1) -> None:
        cfg = dict(channel_unit_cfg or {'type': 'SlimmableChannelUnit', 'units': {}})
        unit_type = cfg.get('type', 'SlimmableChannelUnit')
        if unit_type not in ('SlimmableChannelUnit', 'mmrazor.SlimmableChannelUnit'):
            raise ValueError(f"channel_unit_cfg type must be 'SlimmableChannelUnit', got "
                             f'{unit_type!r}')
        units = load_units(cfg.get('units', {}))
        default = {'choice_mode': 'number', **dict(cfg.get('default_args', {}))}
        cfg['units'] = {name: {**entry, 'init_args': {**default, **dict(entry.get('init_args', {}))}}
                        for name, entry in units.items()}
        cfg['default_args'] = default
        parse = dict(parse_cfg or {'type': 'ChannelAnalyzer', 'demo_input': (1, 3, 224, 224)})
        parse.pop('tracer_type', None)
        super().__init__(cfg, parse, importance=leading_channels_first)
        if isinstance(deploy_index, bool) or not isinstance(deploy_index, int):
            raise TypeError(f'deploy_index must be an int, got {deploy_index!r}')
        self.deploy_index = deploy_index
        self.subnets = self._prepare_subnets(cfg['units'])
        if deploy_index >= len(self.subnets) or deploy_index < -1:
            raise ValueError(f'deploy_index must be -1 or in [0, {len(self.subnets)}), got '
                             f'{deploy_index}')

    @staticmethod
    def _prepare_subnets(units: Mapping[str, Any]) -> list[dict[str, int]]:
        lengths = {name: len(entry['init_args'].get('candidate_choices') or [])
                   for name, entry in units.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f'every unit must list the same number of candidate_choices; got '
                             f'{lengths}')
        count = next(iter(lengths.values()), 0)
        return [{name: units[name]['init_args']['candidate_choices'][i] for name in units}
                for i in range(count)]

    def prepare_from_supernet(self, supernet: nn.Module, example_inputs: Any = None) -> None:
        """Analyse ``supernet``, check the file's units against it, install the channel masks
        and (``deploy_index >= 0``) set the deployed subnet."""
        super().prepare_from_supernet(supernet, example_inputs)
        unknown = sorted(set(self.channel_unit_cfg.get('units', {})) - set(self._name2unit))
        if unknown:
            raise KeyError(f'the channel unit config names {unknown}, which '
                           f'{type(supernet).__name__} does not have; its units are '
                           f'{sorted(self._name2unit)}')
        for unit in self.units:
            for choice in unit.candidate_choices or []:
                unit.atoms_for(choice)  # ValueError for a width the unit cannot take
        if self.deploy_index >= 0:
            self.set_choices(self.subnets[self.deploy_index])

    def sample_choices(self, kind: str = 'random') -> dict[str, Any]:
        """One of the subnets, uniformly (slimmable training visits a fixed list)."""
        if kind != 'random':
            raise ValueError(f"sample_choices supports kind='random', got {kind!r}")
        if not self.subnets:
            raise RuntimeError('no subnets: the channel unit config lists no candidate_choices')
        return dict(random.choice(self.subnets))

    def _extreme(self, pick: Any) -> dict[str, Any]:
        if not self.subnets:
            raise RuntimeError('no subnets: the channel unit config lists no candidate_choices')
        return dict(pick(self.subnets, key=lambda subnet: sum(subnet.values())))

    @property
    def max_choices(self) -> dict[str, Any]:
        """The widest subnet (most channels in total): the sandwich rule's max."""
        return self._extreme(max)

    @property
    def min_choices(self) -> dict[str, Any]:
        """The narrowest subnet (fewest channels in total): the sandwich rule's min."""
        return self._extreme(min)

    def set_max_choices(self) -> None:
        self.set_choices(self.max_choices)

    def set_min_choices(self) -> None:
        self.set_choices(self.min_choices)

    def deploy(self, index: int) -> nn.Module:
        """A physically slimmed copy of the supernet for subnet ``index`` (the supernet and its
        current choices are unchanged afterwards).

        Raises:
            IndexError: ``index`` is not a subnet index.
        """
        if not -len(self.subnets) <= index < len(self.subnets):
            raise IndexError(f'subnet index {index} is out of range: there are '
                             f'{len(self.subnets)} subnets')
        current = self.current_choices
        self.set_choices(self.subnets[index])
        try:
            return self.to_static()
        finally:
            self.set_choices(current)
