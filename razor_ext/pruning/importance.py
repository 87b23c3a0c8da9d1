"""Channel importance criteria: one score per atom (channel, or whole head) of the analysis."""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import Tensor

from razor_ext.analysis import Analysis
from razor_ext.ops import channel_norms
from razor_ext.pruning.threaded import map_in_threads

CRITERIA = ('l1', 'l2', 'bn_scale', 'random', 'fpgm', 'taylor')


def _scatter(scores: np.ndarray, atoms: np.ndarray, values: np.ndarray) -> None:
    np.add.at(scores, atoms, values)


def norm_importance(analysis: Analysis, state: Mapping[str, Tensor], p: int,
                    prunable_only: bool = False) -> np.ndarray:
    """``scores[atom]`` = sum over every coupled parameter of the channel's Lp norm, computed with
    one :func:`razor_ext.ops.channel_norms` call per group of tensors that share an atom layout.
    ``prunable_only``: atoms of units that cannot be pruned score 0 (their tensors are not read:
    an LLM's output head alone is 0.26 GB)."""
    scores = np.zeros(analysis.resolved.final.size, np.float64)
    wanted = _prunable_atoms(analysis) if prunable_only else None
    groups: dict[bytes, list[int]] = {}
    for i, (pos, fa) in enumerate(zip(analysis.positions, analysis.final)):
        t = state.get(pos.key)
        if not isinstance(t, torch.nn.Parameter) and pos.role != 'param':
            continue  # running statistics are not weights
        if t is None or not t.is_floating_point():
            continue
        if wanted is not None and not wanted[fa].any():
            continue
        groups.setdefault(fa.tobytes() + str(t.dtype).encode(), []).append(i)
    jobs = [([state[analysis.positions[i].key].detach() for i in members],
             [analysis.positions[i].dim for i in members]) for members in groups.values()]
    sizes = [sum(t.numel() for t in ts) for ts, _ in jobs]

    def norms(job: tuple[list[Tensor], list[int]]) -> np.ndarray:
        return channel_norms(job[0], job[1], p=p).double().numpy()

    if sum(sizes) >= _THREADED_NUMEL and all(t.device.type == 'cpu' for ts, _ in jobs
                                              for t in ts):
        # An LLM: its groups spread over threads (see razor_ext.pruning.threaded); a group's
        # result does not depend on which thread computed it.
        results = map_in_threads(norms, jobs, sizes)
    else:
        results = [norms(job) for job in jobs]
    for members, values in zip(groups.values(), results):
        _scatter(scores, analysis.final[members[0]], values)
    return scores


# Models with at least this many weights to score spread their norm groups over threads.
_THREADED_NUMEL = 256 << 20


def _prunable_atoms(analysis: Analysis) -> np.ndarray:
    wanted = np.zeros(analysis.resolved.final.size, bool)
    for u in analysis.units:
        if u.prunable:
            wanted[u.atoms] = True
    return wanted


def bn_scale_importance(analysis: Analysis, state: Mapping[str, Tensor]) -> np.ndarray:
    """``|gamma|`` of every norm layer in the unit; units without a norm use L1."""
    scores = np.zeros(analysis.resolved.final.size, np.float64)
    has = np.zeros_like(scores, dtype=bool)
    for pos, fa in zip(analysis.positions, analysis.final):
        if pos.role == 'norm' and pos.key.endswith('weight'):
            _scatter(scores, fa, state[pos.key].detach().abs().double().numpy())
            has[fa] = True
    fallback = norm_importance(analysis, state, 1)
    return np.where(has, scores, fallback)


def fpgm_importance(analysis: Analysis, state: Mapping[str, Tensor]) -> np.ndarray:
    """Filter Pruning via Geometric Median: a channel whose filter is close to all the others
    (sum of distances) is redundant. Computed on every producing ('out') weight."""
    scores = np.zeros(analysis.resolved.final.size, np.float64)
    for pos, fa in zip(analysis.positions, analysis.final):
        t = state.get(pos.key)
        if pos.role != 'out' or not isinstance(t, torch.nn.Parameter) or t.dim() < 2:
            continue
        rows = t.detach().movedim(pos.dim, 0).reshape(t.shape[pos.dim], -1).double()
        _scatter(scores, fa, torch.cdist(rows, rows).sum(1).numpy())
    return scores


def taylor_importance(analysis: Analysis, state: Mapping[str, Tensor],
                      grads: Mapping[str, Tensor]) -> np.ndarray:
    """First-order Taylor: ``|sum over the channel's weights of w * dL/dw|`` per coupled tensor."""
    scores = np.zeros(analysis.resolved.final.size, np.float64)
    for pos, fa in zip(analysis.positions, analysis.final):
        g = grads.get(pos.key)
        if g is None:
            continue
        w = state[pos.key].detach()
        prod = (w * g).movedim(pos.dim, 0).reshape(w.shape[pos.dim], -1).sum(1).abs()
        _scatter(scores, fa, prod.double().numpy())
    return scores


def loss_gradients(model: torch.nn.Module, example_inputs, loss_fn: Callable) -> dict[str, Tensor]:
    """Gradients of ``loss_fn(model(*inputs))`` for every parameter, without touching ``.grad``,
    BN statistics or the train/eval flags."""
    from razor_ext.analysis.analyzer import split_inputs

    args, kwargs = split_inputs(example_inputs)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.enable_grad():
            loss = loss_fn(model(*args, **kwargs))
            grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
    finally:
        for m, training in modes:
            m.training = training
    return {n: g for (n, _), g in zip(named, grads) if g is not None}


def atom_importance(analysis: Analysis, model: torch.nn.Module, criterion: str | Callable,
                    example_inputs=None, loss_fn: Callable | None = None,
                    seed: int = 0, state: Mapping[str, Tensor] | None = None,
                    prunable_only: bool = False) -> np.ndarray:
    """Scores per atom for ``criterion`` (one of :data:`CRITERIA`, or a callable
    ``(analysis, model) -> scores``); ``state`` overrides the model's named tensors;
    ``prunable_only``: L1/L2 skip the tensors of units that cannot be pruned (their atoms
    score 0).

    Example:
        >>> from torch import nn
        >>> from razor_ext.pruning import analyze
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3))
        >>> analysis = analyze(model, torch.randn(1, 3, 8, 8)).analysis
        >>> scores = atom_importance(analysis, model, 'l2')
        >>> scores.shape == analysis.resolved.final.shape
        True
    """
    if callable(criterion):
        return np.asarray(criterion(analysis, model), np.float64)
    if state is None:
        state = dict(model.named_parameters())
        state.update({n: b for n, b in model.named_buffers() if b is not None})
    if criterion == 'l1':
        return norm_importance(analysis, state, 1, prunable_only)
    if criterion == 'l2':
        return norm_importance(analysis, state, 2, prunable_only)
    if criterion == 'bn_scale':
        return bn_scale_importance(analysis, state)
    if criterion == 'random':
        return np.random.default_rng(seed).random(analysis.resolved.final.size)
    if criterion == 'fpgm':
        return fpgm_importance(analysis, state)
    if criterion == 'taylor':
        if loss_fn is None:
            raise ValueError("importance='taylor' needs loss_fn: a callable mapping the model's "
                             'output to a scalar loss')
        return taylor_importance(analysis, state, loss_gradients(model, example_inputs, loss_fn))
    raise ValueError(f'importance must be one of {CRITERIA} or a callable, got {criterion!r}')
