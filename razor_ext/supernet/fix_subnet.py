"""``export_fix_subnet`` / ``load_fix_subnet`` in MMRazor's subnet format:
``{alias or module path: {chosen: value, meta: {all_choices: [...]}}}`` (YAML or JSON; entries
with only ``chosen`` load too)."""
from __future__ import annotations

import copy
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from torch import nn

from razor_ext.fileio import atomic_write_text
from razor_ext.supernet.dynamic_ops.dynamic_mixin import DynamicMixin
from razor_ext.supernet.mutables.base_mutable import BaseMutable
from razor_ext.supernet.mutables.one_shot_mutable_op import OneShotMutableOP


def _mutables(model: nn.Module) -> dict[str, BaseMutable]:
    return {name: m for name, m in model.named_modules() if isinstance(m, BaseMutable)}


def _to_static(model: nn.Module) -> nn.Module:
    """Replace every OneShotMutableOP by its chosen candidate and every dynamic op by its static
    op (plain torch modules), recursively."""
    if isinstance(model, (OneShotMutableOP, DynamicMixin)) or (
            isinstance(model, BaseMutable) and hasattr(model, 'to_static_op')):
        # a freshly built static layer starts in training mode: keep the supernet's mode
        return _to_static(model.to_static_op().train(model.training))
    for name, child in list(model.named_children()):
        setattr(model, name, _to_static(child))
    return model


def export_fix_subnet(model: nn.Module, slice_weight: bool = False,
                      path: str | os.PathLike[str] | None = None) -> tuple[dict[str, Any], nn.Module | None]:
    """The current choices of ``model``'s mutables, and (``slice_weight=True``) a static copy.

    Args:
        model: a supernet with mutables (choices set, e.g. by ``NasMutator.set_choices``).
        slice_weight: also return a copy with every mutable replaced by its chosen module,
            weights shared in value with the supernet (the input model is not modified).
        path: also write the subnet to this ``.yaml`` / ``.json`` file, atomically.

    Returns:
        ``(subnet dict, static model or None)``.

    Example:
        >>> op = OneShotMutableOP({'relu': nn.ReLU(), 'id': nn.Identity()}, alias='act')
        >>> subnet, static = export_fix_subnet(nn.Sequential(op), slice_weight=True)
        >>> subnet['act']['chosen'], type(static[0]).__name__
        ('relu', 'ReLU')
    """
    subnet: dict[str, Any] = {}
    for name, mutable in _mutables(model).items():
        subnet[mutable.alias or name] = mutable.dump_chosen()
    static = None
    if slice_weight:
        static = copy.deepcopy(model)
        load_fix_subnet(static, subnet)
    if path is not None:
        path = Path(path)
        text = json.dumps(subnet, indent=2) if path.suffix == '.json' else yaml.safe_dump(subnet, sort_keys=False)
        atomic_write_text(path, text)
    return subnet, static


def load_fix_subnet(model: nn.Module, subnet: Mapping[str, Any] | str | os.PathLike[str],
                    strict: bool = True) -> nn.Module:
    """Fix ``model``'s mutables to the subnet's choices and make it static, in place.

    Args:
        model: the supernet (freshly built, or trained).
        subnet: a subnet dict or a ``.yaml`` / ``.json`` file in MMRazor's format.
        strict: an entry naming no mutable of the model is an error; with False it is skipped
            with a warning, as MMRazor's loader does (its published files carry entries for
            derived values, e.g. Autoformer's ``middle_channels``, and some for mutables the
            model does not build, e.g. OFA's ``expand_ratio_se`` of stages without SE).

    Returns:
        ``model`` itself, now made of plain torch modules where mutables were. A mutable with a
        single choice may be missing from the file (MMRazor's files omit them); a BigNAS file's
        ``input_shape`` entry (the deploy resolution) is kept as ``fixed_input_shape``. So may
        a mutable that fixing an earlier one (a route) removed from the model.

    Raises:
        KeyError: the subnet names a mutable the model lacks, or lacks one the model has.
        ValueError: a chosen value is not among the mutable's choices.
    """
    if not isinstance(subnet, Mapping):
        text = Path(subnet).read_text()
        subnet = json.loads(text) if Path(subnet).suffix == '.json' else yaml.safe_load(text)
    if not isinstance(subnet, Mapping):
        raise TypeError(f'a subnet must be a mapping of mutable names, got {type(subnet).__name__}')
    mutables = _mutables(model)
    keys = {m.alias or name for name, m in mutables.items()}
    # BigNAS subnet files also name the deploy resolution (MMRazor's input resizer): not a
    # module of the model; kept on it as ``fixed_input_shape`` for the caller
    input_shape = subnet.get('input_shape') if 'input_shape' not in keys else None
    unknown = sorted(set(subnet) - keys - ({'input_shape'} if input_shape is not None else set()))
    if unknown and not strict:
        warnings.warn(f'load_fix_subnet: skipped entries that name no mutable of '
                      f'{type(model).__name__}: {unknown}', stacklevel=2)
    elif unknown:
        raise KeyError(f'the subnet names {unknown}, which {type(model).__name__} does not have; '
                       f'its mutables are {sorted(keys)}')
    for name, mutable in mutables.items():
        key = mutable.alias or name
        if key not in subnet:
            if len(mutable.choices) == 1:  # nothing to choose (MMRazor's files omit these)
                mutable.fix_chosen(mutable.choices[0])
                continue
            if not any(m is mutable for m in model.modules()):
                # inside a branch an already fixed route dropped (a DARTS edge the cell does
                # not use): MMRazor's files omit these too
                continue
            raise KeyError(f'the subnet has no entry for mutable {key!r}')
        entry = subnet[key]
        chosen = entry['chosen'] if isinstance(entry, Mapping) else entry
        mutable.fix_chosen(chosen)
    static = _to_static(model)
    if input_shape is not None:
        static.fixed_input_shape = list(input_shape['chosen'] if isinstance(input_shape, Mapping)
                                        else input_shape)
    return static
