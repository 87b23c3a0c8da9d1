"""``prune``: one call from a model to a physically smaller model with the same interface."""
from __future__ import annotations

import collections
import copy
import difflib
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from razor_ext.analysis import Analysis, ChannelAnalyzer, ChannelUnit
from razor_ext.pruning.analyze import AnalysisReport
from razor_ext.pruning.check import PruningCheckError, check_pruned
from razor_ext.pruning.fallback import involved_units, keep_whole, peers, size_changes
from razor_ext.pruning.importance import atom_importance
from razor_ext.pruning.removal import gather_state, out_widths, update_attributes

RECIPE_ATTR = '_razor_pruning_recipe'
RECIPE_FORMAT = 'razor_ext.pruning/1'
REPORT_ATTR = 'pruning_report'  # the AnalysisReport of the units pruned and kept (and why)


def check_ratio(ratio: Any, name: str = 'ratio') -> float:
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)):
        raise TypeError(f'{name} must be a float in [0, 1), got {type(ratio).__name__}')
    if not 0 <= ratio < 1:
        raise ValueError(f'{name} must be in [0, 1), got {ratio}')
    return float(ratio)


def resolve_ignored(model: nn.Module, ignored: Iterable[Any]) -> set[str]:
    """Module names for ``ignored`` (modules or names); an unknown name lists close candidates."""
    names = {id(m): n for n, m in model.named_modules()}
    known = [n for n in names.values() if n]
    out = set()
    for item in ignored:
        if isinstance(item, nn.Module):
            if id(item) not in names:
                raise ValueError(f'ignored module {type(item).__name__} is not part of the model')
            out.add(names[id(item)])
        elif isinstance(item, str):
            if item not in known:
                close = difflib.get_close_matches(item, known, n=8, cutoff=0.4) or known[:20]
                raise ValueError(f'ignored: the model has no module {item!r}; candidates: '
                                 f'{", ".join(close)}')
            out.add(item)
        else:
            raise TypeError(f'ignored takes modules or module names, got {type(item).__name__}')
    return out


def apply_ignored(units: list[ChannelUnit], ignored: set[str]) -> None:
    if not ignored:
        return
    for u in units:
        # Like Torch-Pruning's ignored_layers: the module's output channels stay whole (its
        # input channels follow the layers that produce them).
        outs = [m for m, _, _ in u.output_related]
        hit = [m for m in outs if any(m == i or m.startswith(i + '.') for i in ignored)]
        if u.prunable and hit:
            u.prunable = False
            u.reason = f'module {hit[0]!r} is in ignored'


def _step(unit: ChannelUnit, round_to: int) -> int:
    return max(1, round_to // unit.divisor) if round_to > unit.divisor else 1


def _keep_count(n: int, removed: int, step: int) -> int:
    keep = n - removed
    keep = int(math.ceil(keep / step) * step)
    return max(min(step, n), min(n, keep))


def select_removed(units: list[ChannelUnit], scores: np.ndarray, ratio: float,
                   global_pruning: bool, round_to: int = 1) -> np.ndarray:
    """Atoms to remove: the lowest ``ratio`` of each prunable unit, or with ``global_pruning``
    the lowest ``ratio`` of all prunable atoms by importance normalised per unit (mean 1)."""
    prunable = [u for u in units if u.prunable]
    counts: dict[int, int] = {}
    if not global_pruning:
        for i, u in enumerate(prunable):
            counts[i] = int(u.num_atoms * ratio + 1e-9)
    else:
        allv, owner = [], []
        for i, u in enumerate(prunable):
            s = scores[u.atoms]
            allv.append(s / (s.mean() + 1e-12))
            owner.append(np.full(u.num_atoms, i))
        if allv:
            v, own = np.concatenate(allv), np.concatenate(owner)
            k = int(v.size * ratio + 1e-9)
            for i in own[np.argsort(v, kind='stable')[:k]].tolist():
                counts[i] = counts.get(i, 0) + 1
    removed = []
    for i, u in enumerate(prunable):
        n = u.num_atoms
        keep = _keep_count(n, counts.get(i, 0), _step(u, round_to))
        order = np.argsort(scores[u.atoms], kind='stable')
        removed.append(u.atoms[order[:n - keep]])
    return np.concatenate(removed) if removed else np.zeros(0, np.int64)


def removal_plan(analysis: Analysis, removed: np.ndarray) -> dict[str, list[tuple[int, np.ndarray]]]:
    mask = np.zeros(analysis.resolved.final.size, bool)
    mask[removed] = True
    plan: dict[str, list[tuple[int, np.ndarray]]] = {}
    for pos, fa in zip(analysis.positions, analysis.final):
        rm = mask[fa]
        if rm.any():
            plan.setdefault(pos.key, []).append((pos.dim, np.nonzero(~rm)[0]))
    return plan


def apply_plan(model: nn.Module, plan: dict, traced: list | tuple = ()) -> dict:
    """Prune ``model`` in place by ``plan`` (and set the ``traced`` size attribute changes);
    returns the JSON-able recipe that replays it."""
    old_out = out_widths(model)
    gather_state(model, plan)
    changes = update_attributes(model, old_out, traced)
    recipe = {'format': RECIPE_FORMAT,
              'tensors': {k: [[int(d), keep.tolist()] for d, keep in v] for k, v in plan.items()},
              'attributes': [[p, a, list(v) if isinstance(v, tuple) else v] for p, a, v in changes]}
    previous = getattr(model, RECIPE_ATTR, None)
    setattr(model, RECIPE_ATTR, recipe if previous is None else {**recipe, 'previous': previous})
    return recipe


def copy_without(model: nn.Module, plan: dict) -> nn.Module:
    """Deep copy of ``model`` that shares (does not copy) the tensors ``plan`` will replace:
    their kept channels are gathered next, so copying them first would move every byte twice."""
    state = dict(model.named_parameters())
    state.update({n: b for n, b in model.named_buffers() if b is not None})
    memo: dict[int, Any] = {id(state[k]): state[k] for k in plan if k in state}
    return _clone(model, memo)


_PLAIN = (int, float, str, bool, type(None), torch.dtype, torch.device)


def _clone(m: nn.Module, memo: dict[int, Any]) -> nn.Module:
    """``copy.deepcopy`` of a module tree, without the generic machinery's cost on the many
    small dicts every module holds (3x faster on ResNet-50); other attributes are deep-copied."""
    if id(m) in memo:
        return memo[id(m)]
    new = m.__class__.__new__(m.__class__)
    memo[id(m)] = new
    d = {}
    for k, v in m.__dict__.items():
        if k == '_modules':
            d[k] = {n: None if c is None else _clone(c, memo) for n, c in v.items()}
        elif k in ('_parameters', '_buffers'):
            d[k] = {n: None if t is None else copy.deepcopy(t, memo) for n, t in v.items()}
        elif isinstance(v, _PLAIN) or (isinstance(v, tuple) and all(isinstance(x, _PLAIN)
                                                                     for x in v)):
            d[k] = v
        elif isinstance(v, dict) and not v and type(v) in (dict, collections.OrderedDict):
            d[k] = type(v)()
        else:
            d[k] = copy.deepcopy(v, memo)
    new.__dict__.update(d)
    return new


def flops_of(model: nn.Module, example_inputs: Any) -> int:
    """Forward FLOPs counted by ``torch.utils.flop_counter.FlopCounterMode``."""
    from torch.utils.flop_counter import FlopCounterMode

    from razor_ext.analysis.analyzer import split_inputs
    from razor_ext.estimators import op_flops  # noqa: F401  (CPU attention)
    from razor_ext.analysis.tracer import frozen_state

    args, kwargs = split_inputs(example_inputs)
    counter = FlopCounterMode(display=False)
    with frozen_state(model), counter:
        model(*args, **kwargs)
    return counter.get_total_flops()


def prune(model: nn.Module, example_inputs: Any, ratio: float = 0.5,
          importance: str | Callable = 'l1', global_pruning: bool = False,
          ignored: Iterable[Any] = (), round_to: int = 1, target_flops: float | None = None,
          *, tracer: str = 'auto', loss_fn: Callable | None = None,
          check: bool = True, uniform: bool = False) -> nn.Module:
    """Return a copy of ``model`` with channels physically removed; ``model`` is untouched.

    Args:
        model: any module; ``example_inputs``: a tensor, tuple, or dict of keyword inputs.
        ratio: fraction in [0, 1) removed from every prunable unit (or, with
            ``global_pruning``, from all units together by importance normalised per unit).
        importance: 'l1', 'l2', 'bn_scale', 'random', 'fpgm', 'taylor' (needs ``loss_fn``) or a
            callable ``(analysis, model) -> scores per atom``.
        ignored: modules or module names whose channels stay whole.
        round_to: kept channel counts are multiples of it (whole heads count as head dim each).
        target_flops: prune until FLOPs fall to this fraction of the original's (``ratio`` is
            then found by bisection and the given one ignored).
        tracer: 'auto' | 'fx' | 'autograd' (see ChannelAnalyzer).
        loss_fn: ``output -> scalar loss`` for Taylor importance.
        uniform: every layer keeps the same number of heads, KV groups and MLP channels
            (per-unit selection; a unit kept whole keeps its peers in the other layers whole),
            so a Hugging Face model's ``config`` can carry the new sizes and the result saves
            with ``save_pretrained`` and loads with plain ``from_pretrained``.
        check: run the pruned model and compare shapes with the plan (recommended). If it
            fails, the units of the module where shapes first disagree are kept whole and the
            rest pruned again, until it passes; it raises only when nothing can be pruned.

    Returns:
        the pruned model; its recipe (for :func:`razor_ext.pruning.save_pruned`) rides along,
        and ``pruned.pruning_report.report()`` lists the units pruned and those kept, and why.

    Example:
        >>> import torch, razor_ext
        >>> m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 3))
        >>> razor_ext.prune(m, torch.randn(1, 3, 8, 8), ratio=0.5)[0].out_channels
        4
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f'model must be an nn.Module, got {type(model).__name__}')
    ratio = check_ratio(ratio)
    if isinstance(round_to, bool) or not isinstance(round_to, int) or round_to < 1:
        raise ValueError(f'round_to must be an int >= 1, got {round_to!r}')
    if target_flops is not None and not (isinstance(target_flops, (int, float))
                                         and 0 < target_flops <= 1):
        raise ValueError(f'target_flops must be a fraction in (0, 1], got {target_flops!r}')
    if uniform and global_pruning:
        raise ValueError('uniform=True keeps every layer\'s counts equal; global_pruning=True '
                         'lets them differ: pass one of them')
    analysis = ChannelAnalyzer(tracer).run(model, example_inputs)
    apply_ignored(analysis.units, resolve_ignored(model, ignored))
    scores = atom_importance(analysis, model, importance, example_inputs, loss_fn,
                             prunable_only=True)

    def build(r: float) -> tuple[nn.Module, np.ndarray]:
        removed = select_removed(analysis.units, scores, r, global_pruning, round_to)
        plan = removal_plan(analysis, removed)
        pruned = copy_without(model, plan)
        apply_plan(pruned, plan, size_changes(model, analysis, removed))
        return pruned, removed

    def search() -> tuple[nn.Module, np.ndarray]:
        if target_flops is None:
            return build(ratio)
        base = flops_of(model, example_inputs)
        lo, hi = 0.0, 0.95
        pruned, removed = build(hi)
        for _ in range(8):
            mid = (lo + hi) / 2
            cand, cand_removed = build(mid)
            if flops_of(cand, example_inputs) <= target_flops * base:
                hi, pruned, removed = mid, cand, cand_removed
            else:
                lo = mid
        return pruned, removed

    while True:
        pruned, removed = search()
        if not check or removed.size == 0:
            break
        try:
            check_pruned(pruned, example_inputs, analysis, _mask(analysis, removed))
            break
        except PruningCheckError as exc:
            # Keep whole what the failing module holds, prune the rest, and try again.
            involved = involved_units(analysis, removed, exc)
            if not involved:
                raise
            if uniform:
                involved = peers(involved, analysis.units)
            keep_whole(involved, exc)
            if not any(u.prunable for u in analysis.units):
                raise PruningCheckError(f'nothing can be pruned: {exc}', exc.module) from exc
    setattr(pruned, REPORT_ATTR, AnalysisReport(analysis))
    return pruned


def _mask(analysis: Analysis, removed: np.ndarray) -> np.ndarray:
    mask = np.zeros(analysis.resolved.final.size, bool)
    mask[removed] = True
    return mask
