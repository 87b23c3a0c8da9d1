"""``JointSearchSpace``: one search space over a supernet's operators, channel widths and
per-layer (or per-unit) weight / activation bit widths."""
from __future__ import annotations

import copy
import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
import json
from torch import Tensor, nn

from razor_ext.quantization.mixed_precision import (FLOAT_BITS, attach_bit_widths, bit_width_layers,
                                                    bit_width_qconfig, detach_bit_widths)
from razor_ext.joint.bit_pairs import allows, tie_bits
from razor_ext.quantization.qconfig import QConfig
from razor_ext.supernet import NasMutator, export_fix_subnet, load_fix_subnet
from razor_ext.supernet.mutables.base_mutable import BaseMutable

__all__ = ['JointSearchSpace', 'default_units']

_BIT_SUFFIXES = ('.weight_bits', '.act_bits')


def _has_mutables(module: nn.Module) -> bool:
    return any(isinstance(m, BaseMutable) for m in module.modules())


def default_units(model: nn.Module) -> list[str]:
    """The latency units of a supernet: its top-level children, with ``nn.Sequential`` children
    that hold mutables split into their own children (``'blocks.0'``, ``'blocks.1'``...).

    Example:
        >>> from razor_ext.architectures import SearchableSlimNet
        >>> default_units(SearchableSlimNet())
        ['stem', 'blocks.0', 'blocks.1', 'blocks.2', 'pool', 'head']
    """
    units = []
    for name, child in model.named_children():
        if isinstance(child, nn.Sequential) and _has_mutables(child):
            units += [f'{name}.{sub}' for sub, _ in child.named_children()]
        else:
            units.append(name)
    return units


class JointSearchSpace:
    """A supernet with bit widths attached, its :class:`NasMutator`, and the way from a choice to
    a deployable static subnet.

    Args:
        supernet: a supernet with operator / width mutables (modified in place: bit widths are
            attached to its convs and linears unless already there).
        example_inputs: ``(1, C, H, W)`` batch used to trace layer order (and as the export shape).
        weight_bits, act_bits: bit choices (16 = float).
        units: latency units (default :func:`default_units`).
        bit_groups: ``'unit'`` (one weight and one activation width per unit: small latency
            tables) or ``'layer'`` (one per conv / linear).
        fixed: ``{search group: value}`` held fixed in every sample (e.g. all bit groups at 8:
            the "search, then uniform int8" baseline).
        bit_pairs: the (weight, activation) bit pairs a unit may take (None: any combination);
            e.g. ``((8, 8), (16, 16))``, what OpenVINO accelerates (:mod:`.bit_pairs`). Samples
            hold them, and :meth:`set_choices` ties a pair outside them to one inside.

    Example:
        >>> import torch
        >>> from razor_ext.architectures import SearchableSlimNet
        >>> space = JointSearchSpace(SearchableSlimNet(widths=((4, 8),), strides=(2,)),
        ...                          torch.randn(1, 1, 28, 28))
        >>> sorted(space.sample_choices())[:4]
        ['blocks.0.act_bits', 'blocks.0.op', 'blocks.0.weight_bits', 'blocks.0.width']
    """

    def __init__(self, supernet: nn.Module, example_inputs: Tensor,
                 weight_bits: Sequence[int] = (4, 8, 16),
                 act_bits: Sequence[int] = (8, 16), units: Sequence[str] | None = None,
                 bit_groups: str = 'unit', fixed: Mapping[str, Any] | None = None,
                 bit_pairs: Sequence[tuple[int, int]] | None = None) -> None:
        if bit_groups not in ('unit', 'layer'):
            raise ValueError(f"bit_groups must be 'unit' or 'layer', got {bit_groups!r}")
        self.supernet, self.example_inputs = supernet, example_inputs
        self.units = list(units) if units is not None else default_units(supernet)
        if not bit_width_layers(supernet):
            group = self._unit_of if bit_groups == 'unit' else None
            attach_bit_widths(supernet, weight_bits, act_bits, group=group)
        self.mutator = NasMutator()
        self.mutator.prepare_from_supernet(supernet)
        self.fixed = dict(fixed or {})
        unknown = sorted(set(self.fixed) - set(self.mutator.search_groups))
        if unknown:
            raise KeyError(f'fixed names unknown search groups {unknown}')
        self.bit_pairs = bit_pairs

    @property
    def bit_pairs(self) -> tuple[tuple[int, int], ...] | None:
        """The allowed (weight, activation) bit pairs (None: any)."""
        return self._bit_pairs

    @bit_pairs.setter
    def bit_pairs(self, pairs: Sequence[tuple[int, int]] | None) -> None:
        if pairs is not None:
            pairs = tuple((int(w), int(a)) for w, a in pairs)
            groups = self.mutator.search_groups
            for g in groups:
                if not g.endswith('.weight_bits'):
                    continue
                acts = groups.get(g[:-len('.weight_bits')] + '.act_bits')
                ok = [p for p in pairs if p[0] in groups[g][0].choices
                      and (acts is None or p[1] in acts[0].choices)]
                if not ok:
                    raise ValueError(f'none of the bit pairs {pairs} is available to {g} '
                                     f'(weights {groups[g][0].choices})')
        self._bit_pairs = pairs

    def _unit_of(self, layer: str) -> str:
        best = max((u for u in self.units if layer == u or layer.startswith(u + '.')), key=len,
                   default=None)
        return best if best is not None else layer

    # ------------------------------------------------------------ the mutator's face
    def prepare_from_supernet(self, supernet: nn.Module) -> None:
        """A mutator's setup step: already done for this space's own supernet."""
        if supernet is not self.supernet:
            raise ValueError('a JointSearchSpace serves the supernet it was built on')

    @property
    def bit_groups(self) -> list[str]:
        """The search groups that are bit widths."""
        return [g for g in self.mutator.search_groups if g.endswith(_BIT_SUFFIXES)]

    def uniform_bits(self, weight: int, activation: int) -> dict[str, int]:
        """``{bit group: width}`` setting every weight to ``weight`` and input to ``activation`` bits."""
        return {g: (weight if g.endswith('.weight_bits') else activation) for g in self.bit_groups}

    def sample_choices(self, kind: str = 'random') -> dict[str, Any]:
        """A choice per search group (``fixed`` ones held); ``kind``: random / max / min."""
        choices = {**self.mutator.sample_choices(kind), **self.fixed}
        if self._bit_pairs and kind == 'random':
            # a random allowed pair per unit (tying a random pair would favour some pairs)
            for g in self.bit_groups:
                act = g[:-len('.weight_bits')] + '.act_bits'
                if g.endswith('.weight_bits') and act in choices and g not in self.fixed:
                    choices[g], choices[act] = random.choice(self._allowed_pairs(g))
        return tie_bits(choices, self._bit_pairs)

    def _allowed_pairs(self, weight_group: str) -> list[tuple[int, int]]:
        groups = self.mutator.search_groups
        acts = groups[weight_group[:-len('.weight_bits')] + '.act_bits'][0].choices
        return [p for p in self._bit_pairs or () if p[0] in groups[weight_group][0].choices
                and p[1] in acts]

    def normalize(self, choices: Mapping[str, Any]) -> dict[str, Any]:
        """``choices`` with every bit pair outside :attr:`bit_pairs` tied to one inside."""
        return tie_bits(choices, self._bit_pairs)

    def allows(self, choices: Mapping[str, Any]) -> bool:
        """Whether ``choices`` (all groups or some, e.g. a unit's) hold only allowed pairs."""
        return allows(choices, self._bit_pairs)

    def set_choices(self, choices: Mapping[str, Any]) -> None:
        self.mutator.set_choices(self.normalize(choices))

    @property
    def current_choices(self) -> dict[str, Any]:
        return self.mutator.current_choices

    @property
    def max_choices(self) -> dict[str, Any]:
        return self.sample_choices('max')

    @property
    def min_choices(self) -> dict[str, Any]:
        return self.sample_choices('min')

    # ------------------------------------------------------------ subnets
    def subnet(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """The current subnet in MMRazor's format (ops, widths and bit widths); written to
        ``path`` (``.yaml`` / ``.json``) atomically when given."""
        return export_fix_subnet(self.supernet, path=path)[0]

    def load_subnet(self, subnet: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
        """Set the choices a subnet file (or dict) records; returns them by search group."""
        if not isinstance(subnet, Mapping):
            text = Path(subnet).read_text()
            subnet = json.loads(text) if Path(subnet).suffix == '.json' else yaml.safe_load(text)
        choices = {}
        for group in self.mutator.search_groups:
            if group not in subnet:
                raise KeyError(f'the subnet has no entry for search group {group!r}')
            entry = subnet[group]
            choices[group] = entry['chosen'] if isinstance(entry, Mapping) else entry
        self.set_choices(choices)
        return choices

    def static_subnet(self) -> nn.Module:
        """A float static copy of the current subnet (plain torch modules, weights copied)."""
        clone = copy.deepcopy(self.supernet)
        detach_bit_widths(clone)
        keys = {m.alias or n for n, m in clone.named_modules() if isinstance(m, BaseMutable)}
        subnet = {k: v for k, v in self.subnet().items() if k in keys}
        return load_fix_subnet(clone, subnet).eval()

    def qconfig(self, static: nn.Module) -> QConfig:
        """The per-layer :class:`QConfig` of ``static`` for the current bit widths."""
        return bit_width_qconfig(self.supernet, static, self.example_inputs)

    def is_float(self) -> bool:
        """Whether every bit width currently chosen is 16 (nothing quantized)."""
        return all(self.current_choices[g] == FLOAT_BITS for g in self.bit_groups)
