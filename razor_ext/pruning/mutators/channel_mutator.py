"""``ChannelMutator``: drive the channel units of a model through masks, then make it static."""
from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from razor_ext.analysis import Analysis, ChannelAnalyzer, ChannelUnit
from razor_ext.registry import MODELS


class _ChannelMask(nn.Module):
    """Parametrization ``w -> w * mask`` (mask broadcast along its channel dim)."""

    def __init__(self, masks: list[tuple[int, Tensor]]) -> None:
        super().__init__()
        self.dims = [d for d, _ in masks]
        for i, (_, m) in enumerate(masks):
            self.register_buffer(f'mask{i}', m)

    def forward(self, w: Tensor) -> Tensor:
        for i, d in enumerate(self.dims):
            shape = [1] * w.dim()
            shape[d] = w.shape[d]
            w = w * getattr(self, f'mask{i}').view(shape).to(w.dtype)
        return w


class MutableChannelUnit:
    """One prunable unit with a choice: the kept ratio (``choice_mode='ratio'``) or the kept
    channel count (``'number'``), MMRazor's L1 unit semantics (lowest L1 channels go first)."""

    def __init__(self, unit: ChannelUnit, min_ratio: float = 0.0, min_value: int = 1,
                 candidate_choices: list | None = None, choice_mode: str = 'ratio') -> None:
        self.unit = unit
        self.name = unit.name
        self.num_channels = unit.num_channels
        self.divisor = unit.divisor
        self.min_ratio, self.min_value = min_ratio, min_value
        self.choice_mode = choice_mode
        self.candidate_choices = candidate_choices or ([i / 10 for i in range(1, 11)]
                                                       if choice_mode == 'ratio' else None)
        self.kept = np.ones(unit.num_atoms, bool)
        self.current_choice: float | int = 1.0 if choice_mode == 'ratio' else unit.num_channels

    def atoms_for(self, choice: float | int) -> int:
        if isinstance(choice, bool) or not isinstance(choice, (int, float)):
            raise TypeError(f'choice of unit {self.name} must be a ratio or a channel count, '
                            f'got {choice!r}')
        if isinstance(choice, float) or self.choice_mode == 'ratio' and choice == 1:
            if not 0 < choice <= 1:
                raise ValueError(f'ratio choice of unit {self.name} must be in (0, 1], got {choice}')
            keep = int(round(self.unit.num_atoms * max(choice, self.min_ratio)))
        else:
            if not 0 < choice <= self.num_channels:
                raise ValueError(f'channel choice of unit {self.name} must be in [1, '
                                 f'{self.num_channels}], got {choice}')
            keep = int(round(choice / self.divisor))
        return max(1, max(keep, -(-self.min_value // self.divisor)))

    def sample_choice(self) -> float | int:
        if self.candidate_choices:
            return random.choice(self.candidate_choices)
        return random.randint(max(1, self.min_value), self.num_channels)

    def config_template(self) -> dict[str, Any]:
        return {'init_args': {'num_channels': self.num_channels, 'divisor': self.divisor,
                              'min_value': self.min_value, 'min_ratio': self.min_ratio,
                              'candidate_choices': self.candidate_choices,
                              'choice_mode': self.choice_mode},
                'choice': self.current_choice}


def sequential_scores(mutator: ChannelMutator) -> np.ndarray:
    """Per-atom scores that make ``set_choices`` keep each unit's **first** channels (MMRazor's
    ``SequentialMutableChannelUnit``, used by its deploy sub-models, DMCP and DCFF)."""
    scores = np.zeros(mutator.analysis.resolved.final.size)
    for unit in mutator.units:
        scores[unit.unit.atoms] = -np.arange(unit.unit.num_atoms, dtype=float)
    return scores


def unit_aliases(units: list[MutableChannelUnit]) -> dict[str, MutableChannelUnit]:
    """MMRazor-style names ``"<module>_(start, end)_<n>"`` of every output layer of each unit
    (names claimed by two units are dropped: they would be ambiguous)."""
    seen: dict[str, MutableChannelUnit | None] = {}
    for unit in units:
        for module, start, end in unit.unit.output_related:
            alias = f'{module}_({start}, {end})_{end - start}'
            seen[alias] = unit if seen.get(alias, unit) is unit else None
    return {k: u for k, u in seen.items() if u is not None}


@MODELS.register_module()
class ChannelMutator:
    """Manage the channel units of a model: mask-driven choices, MMRazor-format configs, and
    conversion of the masked model to a physically pruned one.

    Args:
        channel_unit_cfg: ``dict(type=..., default_args={...}, units={name: {init_args, choice}})``
            (MMRazor format) or None.
        parse_cfg: ``dict(type='ChannelAnalyzer', tracer='auto', demo_input=(1, 3, 224, 224))``.
        importance: criterion that orders channels within a unit ('l1' like MMRazor's
            L1MutableChannelUnit; any of :data:`razor_ext.pruning.CRITERIA` without a loss).

    Example:
        >>> import torch
        >>> m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 3))
        >>> mut = ChannelMutator(parse_cfg=dict(type='ChannelAnalyzer', demo_input=(1, 3, 8, 8)))
        >>> mut.prepare_from_supernet(m)
        >>> mut.set_choices({'0_(0, 8)_8': 0.5})
        >>> mut.to_static(m)[0].out_channels
        4
    """

    def __init__(self, channel_unit_cfg: Mapping[str, Any] | None = None,
                 parse_cfg: Mapping[str, Any] | None = None, importance: str = 'l1') -> None:
        self.channel_unit_cfg = dict(channel_unit_cfg or {})
        self.parse_cfg = dict(parse_cfg or {'type': 'ChannelAnalyzer', 'tracer': 'auto'})
        if self.parse_cfg.get('type', 'ChannelAnalyzer') != 'ChannelAnalyzer':
            raise ValueError(f"parse_cfg type must be 'ChannelAnalyzer', got {self.parse_cfg}")
        self.importance = importance
        self.units: list[MutableChannelUnit] = []
        self._name2unit: dict[str, MutableChannelUnit] = {}
        self._alias2unit: dict[str, MutableChannelUnit] = {}
        self.analysis: Analysis | None = None
        self.model: nn.Module | None = None
        self._masks: dict[tuple[str, int], tuple[Tensor, np.ndarray]] = {}

    # ------------------------------------------------------------------ preparation
    def prepare_from_supernet(self, supernet: nn.Module, example_inputs: Any = None) -> None:
        """Analyse ``supernet`` and make its prunable layers mask-driven (parametrizations)."""
        if example_inputs is None:
            # MMRazor's ChannelAnalyzer analyses a (1, 3, 224, 224) input unless told otherwise.
            demo = self.parse_cfg.get('demo_input', (1, 3, 224, 224))
            if demo is None:
                raise ValueError("prepare_from_supernet needs example_inputs or parse_cfg "
                                 "'demo_input' (a shape such as (1, 3, 224, 224))")
            example_inputs = torch.randn(*demo) if isinstance(demo, (tuple, list)) else demo
        self.example_inputs = example_inputs
        self.analysis = ChannelAnalyzer(self.parse_cfg.get('tracer', 'auto')).run(supernet,
                                                                                 example_inputs)
        self.model = supernet
        default = dict(self.channel_unit_cfg.get('default_args', {}))
        unit_cfgs = self.channel_unit_cfg.get('units', {})
        self.units = []
        for u in self.analysis.units:
            if not u.prunable:
                continue
            args = {**default, **unit_cfgs.get(u.name, {}).get('init_args', {})}
            args = {k: v for k, v in args.items() if k in ('min_ratio', 'min_value',
                                                          'candidate_choices', 'choice_mode')}
            self.units.append(MutableChannelUnit(u, **args))
        self._name2unit = {u.name: u for u in self.units}
        self._alias2unit = unit_aliases(self.units)
        self._install_masks()
        choices = {n: c['choice'] for n, c in unit_cfgs.items() if 'choice' in c}
        if choices:
            self.set_choices(choices)

    def _install_masks(self) -> None:
        per_key: dict[str, list[tuple[int, Tensor]]] = {}
        for unit in self.units:
            for i in unit.unit.positions:
                pos = self.analysis.positions[i]
                key = (pos.key, pos.dim)
                if key in self._masks:
                    continue
                t = self._tensor(pos.key)
                mask = torch.ones(t.shape[pos.dim], dtype=t.dtype)
                self._masks[key] = (mask, self.analysis.final[i])
                per_key.setdefault(pos.key, []).append((pos.dim, mask))
        params = dict(self.model.named_parameters())
        for key, masks in per_key.items():
            if key not in params:
                continue  # buffers (running stats) need no mask: the producers are masked
            path, _, name = key.rpartition('.')
            module = self.model.get_submodule(path)
            parametrize.register_parametrization(module, name, _ChannelMask(masks),
                                                 unsafe=True)

    def _tensor(self, key: str) -> Tensor:
        path, _, name = key.rpartition('.')
        module = self.model.get_submodule(path)
        if parametrize.is_parametrized(module, name):
            return getattr(module.parametrizations, name).original
        return getattr(module, name)

    # ------------------------------------------------------------------ choices
    @property
    def mutable_units(self) -> list[MutableChannelUnit]:
        return self.units

    def _scores(self) -> np.ndarray:
        from razor_ext.pruning.importance import atom_importance

        # Scores of the unmasked weights, so a masked channel can come back.
        state = {pos.key: self._tensor(pos.key) for pos in self.analysis.positions}
        return atom_importance(self.analysis, self.model, self.importance, state=state)

    def set_choices(self, choices: Mapping[str, Any], scores: np.ndarray | None = None) -> None:
        """Set kept ratios (floats) or kept channel counts (ints) per unit name; the channels
        kept are the most important ones (``scores`` per atom, default the L1 criterion)."""
        choices = self.resolve_names(choices)
        scores = self._scores() if scores is None else scores
        for name, choice in choices.items():
            unit = self._name2unit[name]
            keep = unit.atoms_for(choice)
            order = np.argsort(-scores[unit.unit.atoms], kind='stable')
            unit.kept[:] = False
            unit.kept[order[:keep]] = True
            unit.current_choice = choice
        self._update_masks()

    def resolve_names(self, choices: Mapping[str, Any], what: str = 'units') -> dict[str, Any]:
        """``choices`` keyed by razor_ext's unit names; a key may also be MMRazor's name of the
        unit, ``"<output layer>_(start, end)_<n>"`` after any layer producing its channels
        (MMRazor names a residual unit after the layer its tracer meets first, e.g. ``conv2``
        of a downsampling block, where razor_ext may name it after ``downsample.0``).

        Raises:
            KeyError: naming the unknown keys and listing the valid unit names.
        """
        out: dict[str, Any] = {}
        unknown = []
        for key, choice in choices.items():
            unit = self._name2unit.get(key) or self._alias2unit.get(key)
            if unit is None:
                unknown.append(key)
            else:
                out[unit.name] = choice
        if unknown:
            raise KeyError(f'unknown {what} {unknown}; units: {list(self._name2unit)}')
        return out

    def _update_masks(self) -> None:
        removed = self.removed_atoms()
        mask_of = np.zeros(self.analysis.resolved.final.size, bool)
        mask_of[removed] = True
        with torch.no_grad():
            for mask, final in self._masks.values():
                mask.copy_(torch.from_numpy(~mask_of[final]).to(mask.dtype))

    def removed_atoms(self) -> np.ndarray:
        parts = [u.unit.atoms[~u.kept] for u in self.units]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def sample_choices(self, kind: str = 'random') -> dict[str, Any]:
        if kind != 'random':
            raise ValueError(f"sample_choices supports kind='random', got {kind!r}")
        return {u.name: u.sample_choice() for u in self.units}

    @property
    def current_choices(self) -> dict[str, Any]:
        return {u.name: u.current_choice for u in self.units}

    @property
    def choice_template(self) -> dict[str, Any]:
        return {u.name: u.current_choice for u in self.units}

    def config_template(self, only_mutable_units: bool = True) -> dict[str, Any]:
        """JSON-able config in MMRazor's channel-unit format (with the current choices)."""
        return {'type': 'ChannelMutator',
                'channel_unit_cfg': {'type': 'L1MutableChannelUnit', 'default_args': {},
                                     'units': {u.name: u.config_template() for u in self.units}},
                'parse_cfg': {k: (list(v) if isinstance(v, tuple) else v)
                              for k, v in self.parse_cfg.items()}}

    # ------------------------------------------------------------------ static model
    def to_static(self, model: nn.Module | None = None) -> nn.Module:
        """A physically pruned copy of the masked model (the masked model is untouched)."""
        from razor_ext.pruning.prune import apply_plan, removal_plan

        model = self.model if model is None else model
        static = copy.deepcopy(model)
        for module in list(static.modules()):
            if parametrize.is_parametrized(module):
                # Not remove_parametrizations: the copy shares its generated class with the
                # masked model, and removing would strip the masked model's properties too.
                originals = {n: p.original for n, p in module.parametrizations.items()}
                del module.parametrizations
                module.__class__ = module.__class__.__bases__[0]
                for n, t in originals.items():
                    module._parameters[n] = t
        apply_plan(static, removal_plan(self.analysis, self.removed_atoms()))
        return static
