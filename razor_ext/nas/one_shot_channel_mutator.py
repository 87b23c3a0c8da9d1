"""``OneShotChannelMutator``: AutoSlim's searchable channel widths over a plain model (MMRazor's
name and config). The channel units come from the channel analysis of a ``ChannelMutator``,
reached by its config name (``nas`` does not import ``pruning``); this class adds the one-shot
search space on top: per unit a ratio from ``candidate_choices``, rounded to a multiple of
``divisor`` channels, keeping the unit's *leading* channels so that every width shares one set
of weights."""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from razor_ext.architectures.backbones.mobilenet_v2 import make_divisible
from razor_ext.registry import MODELS

__all__ = ['OneShotChannelMutator', 'leading_channels']

_UNIT_TYPES = ('OneShotMutableChannelUnit', 'mmrazor.OneShotMutableChannelUnit')


def leading_channels(analysis: Any, model: nn.Module) -> np.ndarray:
    """Atom scores ranking each unit's channels by position (the first highest), so a width
    keeps the leading channels (slimmable weight sharing)."""
    scores = np.zeros(analysis.resolved.final.size, np.float64)
    for unit in analysis.units:
        scores[unit.atoms] = -np.arange(unit.atoms.size, dtype=np.float64)
    return scores


@MODELS.register_module()
class OneShotChannelMutator:
    """One-shot channel search space of AutoSlim (MMRazor's ``OneShotChannelMutator``).

    Args:
        channel_unit_cfg: ``dict(type='OneShotMutableChannelUnit', default_args=dict(
            candidate_choices=[...], choice_mode='ratio', divisor=8))``; ``units`` may override
            per unit (MMRazor's channel-unit format).
        parse_cfg: ``dict(type='ChannelAnalyzer', demo_input=(1, 3, 224, 224))``
            (``tracer_type`` accepted and ignored: the analyzer picks its tracer).

    Choices are ``{unit name: ratio}`` (or channel counts with ``choice_mode='number'``);
    a ratio ``r`` of a unit with ``C`` channels keeps ``make_divisible(r * C, divisor)`` leading
    channels (at most ``C``).

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(),
        ...                           torch.nn.Conv2d(16, 4, 3))
        >>> mutator = OneShotChannelMutator(
        ...     dict(type='OneShotMutableChannelUnit', default_args=dict(
        ...         candidate_choices=[0.5, 1.0], choice_mode='ratio', divisor=8)),
        ...     dict(type='ChannelAnalyzer', demo_input=(1, 3, 8, 8)))
        >>> mutator.prepare_from_supernet(net)
        >>> mutator.set_choices(mutator.min_choices)
        >>> mutator.channels_of(mutator.min_choices)
        {'0_(0, 16)_16': 8}
    """

    def __init__(self, channel_unit_cfg: Mapping[str, Any] | None = None,
                 parse_cfg: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        cfg = dict(channel_unit_cfg or {'type': 'OneShotMutableChannelUnit'})
        if cfg.get('type', _UNIT_TYPES[0]) not in _UNIT_TYPES:
            raise ValueError(f"channel_unit_cfg type must be 'OneShotMutableChannelUnit', got "
                             f"{cfg.get('type')!r}")
        default = dict(cfg.get('default_args') or {})
        self.choice_mode = default.get('choice_mode', 'ratio')
        if self.choice_mode not in ('ratio', 'number'):
            raise ValueError(f"choice_mode must be 'ratio' or 'number', got {self.choice_mode!r}")
        self.divisor = int(default.get('divisor', 1))
        self.candidate_choices = list(default.get('candidate_choices')
                                      or ([i / 10 for i in range(1, 11)]
                                          if self.choice_mode == 'ratio' else []))
        if not self.candidate_choices:
            raise ValueError("choice_mode='number' needs default_args candidate_choices")
        self.unit_cfgs = dict(cfg.get('units') or {})
        parse = dict(parse_cfg or {'type': 'ChannelAnalyzer', 'demo_input': (1, 3, 224, 224)})
        parse.pop('tracer_type', None)
        self.parse_cfg = parse
        self.channels: Any = None  # the ChannelMutator holding the units and masks
        self.candidates: dict[str, list[Any]] = {}
        self._current: dict[str, Any] = {}

    def prepare_from_supernet(self, supernet: nn.Module, example_inputs: Any = None) -> None:
        """Analyse ``supernet`` into channel units and make their widths mask-driven."""
        self.channels = MODELS.build(dict(type='ChannelMutator', parse_cfg=self.parse_cfg,
                                          importance=leading_channels))
        self.channels.prepare_from_supernet(supernet, example_inputs)
        self.candidates = {}
        for unit in self.channels.units:
            init = dict(self.unit_cfgs.get(unit.name, {}).get('init_args') or {})
            self.candidates[unit.name] = list(init.get('candidate_choices') or self.candidate_choices)
        self._current = self.max_choices
        self.set_choices(self._current)

    def _count(self, name: str, choice: Any) -> int:
        full = self.channels._name2unit[name].num_channels
        if self.choice_mode == 'ratio':
            if not isinstance(choice, (int, float)) or not 0 < choice <= 1:
                raise ValueError(f'unit {name}: a ratio choice must be in (0, 1], got {choice!r}')
            value = choice * full
        else:
            value = choice
        return min(full, make_divisible(value, self.divisor)) if self.divisor > 1 \
            else max(1, min(full, int(round(value))))

    def channels_of(self, choices: Mapping[str, Any]) -> dict[str, int]:
        """The channel count each choice keeps."""
        return {name: self._count(name, choice) for name, choice in choices.items()}

    def set_choices(self, choices: Mapping[str, Any]) -> None:
        """Set ``{unit name: ratio or count}``; units left out keep their choice."""
        self._require_prepared()
        unknown = sorted(set(choices) - set(self.candidates))
        if unknown:
            raise KeyError(f'unknown channel units {unknown}; units: {sorted(self.candidates)}')
        counts = self.channels_of(choices)
        # the analysis' int path: a count, kept as leading channels by ``leading_channels``
        self.channels.set_choices(counts)
        self._current.update(choices)

    def sample_choices(self, kind: str = 'random') -> dict[str, Any]:
        """A uniformly random candidate per unit."""
        if kind != 'random':
            raise ValueError(f"sample_choices supports kind='random', got {kind!r}")
        self._require_prepared()
        return {name: random.choice(c) for name, c in self.candidates.items()}

    @property
    def max_choices(self) -> dict[str, Any]:
        return {name: max(c) for name, c in self.candidates.items()}

    @property
    def min_choices(self) -> dict[str, Any]:
        return {name: min(c) for name, c in self.candidates.items()}

    @property
    def current_choices(self) -> dict[str, Any]:
        return dict(self._current)

    @property
    def search_groups(self) -> dict[str, list[Any]]:
        """``{unit name: candidate choices}``."""
        return {name: list(c) for name, c in self.candidates.items()}

    def to_static(self, model: nn.Module | None = None) -> nn.Module:
        """A physically slimmed copy at the current choices."""
        self._require_prepared()
        return self.channels.to_static(model)

    def _require_prepared(self) -> None:
        if self.channels is None:
            raise RuntimeError('call prepare_from_supernet first')
