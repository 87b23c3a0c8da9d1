"""Automatic fallback: when the pruned model fails its check, keep whole the units of the module
where shapes first disagree and prune the rest, until the check passes."""
from __future__ import annotations

import re
from typing import Any

import numpy as np
from torch import nn

from razor_ext.analysis import Analysis, ChannelUnit
from razor_ext.analysis.sizes import binding_values
from razor_ext.pruning.check import PruningCheckError

AttrChange = tuple[str, str, Any]


def size_changes(model: nn.Module, analysis: Analysis, removed: np.ndarray) -> list[AttrChange]:
    """New values of the size attributes the trace bound to pruned dims (see
    :mod:`razor_ext.analysis.sizes`); an attribute bound to dims left with different sizes is
    left alone (the check then finds the module that reads it).

    Example:
        >>> size_changes(model, analysis, removed)  # doctest: +SKIP
        [('blocks.0.attn', 'num_heads', 2), ('', 'hidden_dim', 16)]
    """
    mask = np.zeros(analysis.resolved.final.size, bool)
    mask[removed] = True
    out = []
    for (owner, attr), values in binding_values(analysis.size_bindings, analysis.final_of,
                                                mask).items():
        if owner == 'config':
            target = getattr(model, 'config', None)
        else:
            try:
                target = model.get_submodule(owner) if owner else model
            except AttributeError:
                continue
        current = getattr(target, attr, None)
        changed = values - {current}
        if -1 in values:
            continue  # a head count that is no whole number: the check finds the module
        if len(changed) == 1 and (owner != 'config' or len(values) == 1):
            out.append((owner, attr, next(iter(changed))))
    return out


def _touches(unit: ChannelUnit, analysis: Analysis, module: str, out_atoms: set[int]) -> bool:
    prefix = module + '.'
    for i in unit.positions:
        key = analysis.positions[i].key
        if not module or key.startswith(prefix):
            return True
    return bool(out_atoms.intersection(unit.atoms.tolist()))


def involved_units(analysis: Analysis, removed: np.ndarray, error: PruningCheckError
                   ) -> list[ChannelUnit]:
    """Prunable units with channels removed that the failing module holds (its parameters or
    those of its children) or that reach its outputs; all such units if no module is named."""
    module = error.module
    rm = set(removed.tolist())
    units = [u for u in analysis.units if u.prunable and rm.intersection(u.atoms.tolist())]
    if module is None:
        return units
    out_atoms: set[int] = set()
    for _, labels in analysis.module_outputs.get(module, []):
        for lab in labels:
            if lab is not None:
                out_atoms.update(lab[lab >= 0].tolist())
    hit = [u for u in units if _touches(u, analysis, module, out_atoms)] or units
    # A fused projection cut at offsets bound to head counts is the least certain binding (the
    # offsets may be literals of the same value): keep it whole first, not its neighbours.
    sliced = _sliced_atoms(analysis)
    suspects = [u for u in hit if sliced.intersection(u.atoms.tolist())]
    return suspects or hit


def _sliced_atoms(analysis: Analysis) -> set[int]:
    out: set[int] = set()
    for b in analysis.size_bindings:
        if b.scale != 1:
            fa = analysis.final_of(b.labels)
            out.update(fa[fa >= 0].tolist())
    return out


def peers(units: list[ChannelUnit], every: list[ChannelUnit]) -> list[ChannelUnit]:
    """``units`` and the units of the same place in the other layers (names equal but for the
    layer index), so a uniform pruning stays uniform when some are kept whole."""
    pattern = {re.sub(r'\.\d+\.', '.#.', u.name) for u in units}
    return [u for u in every if u in units or (u.prunable and
                                               re.sub(r'\.\d+\.', '.#.', u.name) in pattern)]


def keep_whole(units: list[ChannelUnit], error: PruningCheckError) -> None:
    for u in units:
        u.prunable = False
        u.reason = f'kept whole after the pruned model failed its check: {error}'
