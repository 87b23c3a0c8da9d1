"""``search_compression``: train (or take) a joint supernet, search operators, widths and bit
widths under a latency budget measured in the target runtime, export the best as QDQ ONNX."""
from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.estimators.latency_table import LatencyTable
from razor_ext.fileio import atomic_path
from razor_ext.joint.algorithm import JointCompression
from razor_ext.joint.bit_pairs import bit_pairs_for
from razor_ext.joint.deploy import deployable_subnet, export_deployable, measure_subnet
from razor_ext.joint.latency import build_latency_table
from razor_ext.joint.pareto import pareto_front, plot_fronts
from razor_ext.nas.search.evolution import (SearchConstraintError, SearchResult,
                                           evolution_search)
from razor_ext.quantization import enable_observers

__all__ = ['FinalCandidate', 'CompressionResult', 'search_compression', 'calibrate_supernet']


@dataclasses.dataclass
class FinalCandidate:
    """A top candidate deployed and measured: choices, table-predicted and measured milliseconds,
    the supernet's score and the deployed (static, calibrated, quantized) model's accuracy."""
    choices: dict[str, Any]
    predicted_ms: float
    measured_ms: float
    supernet_score: float
    accuracy: float


@dataclasses.dataclass
class CompressionResult:
    """What :func:`search_compression` found.

    Attributes:
        best: the chosen :class:`FinalCandidate` (most accurate within the budget as measured).
        subnet: its MMRazor-style subnet dict (ops, widths, bit widths).
        onnx_path, subnet_path, plot_path: files written (None without ``work_dir``).
        finals: every final candidate, measured.
        front: indices into ``finals`` of the accuracy / measured-latency Pareto front.
        search: the evolution search's result (predicted latencies in ``resources``).
        table: the latency table used.
    """
    best: FinalCandidate
    subnet: dict[str, Any]
    onnx_path: Path | None
    subnet_path: Path | None
    plot_path: Path | None
    finals: list[FinalCandidate]
    front: list[int]
    search: SearchResult
    table: LatencyTable


def _inputs(batch: Any) -> Tensor:
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], Tensor):
        return batch[0]
    if isinstance(batch, Mapping) and isinstance(batch.get('inputs'), Tensor):
        return batch['inputs']
    raise TypeError(f'calibration batches must be tensors, (inputs, targets) or dicts with inputs, '
                    f'got {type(batch).__name__}')


def _distinct_best(search: SearchResult, space: Any, n: int) -> list[Any]:
    """The ``n`` best-scoring candidates that are distinct subnets once their bit pairs are
    tied (the evolution sees untied variants of one subnet as different candidates)."""
    seen, out = set(), []
    pool = list(search.top_k) + sorted(search.candidates, key=lambda c: -c.score)
    for cand in pool:
        key = tuple(sorted(space.normalize(cand.choices).items()))
        if key not in seen:
            seen.add(key)
            out.append(cand)
        if len(out) == n:
            break
    return out


def calibrate_supernet(algorithm: JointCompression, calib: Sequence[Tensor], seed: int = 0) -> None:
    """Observe ``calib`` under the largest, smallest and random subnets (every bit width's fake
    quant observes on each forward), then stop observing: qparams fixed for the search."""
    space, net = algorithm.space, algorithm.architecture
    enable_observers(net, True)
    rng_state = random.getstate()
    random.seed(seed)
    net.eval()
    try:
        with torch.no_grad():
            for x in calib:
                for choices in (space.max_choices, space.min_choices, space.sample_choices()):
                    space.set_choices(choices)
                    net(x)
    finally:
        random.setstate(rng_state)
    enable_observers(net, False)


def search_compression(
    model: nn.Module | JointCompression,
    train_fn: Callable[[JointCompression], None] | None,
    eval_fn: Callable[[nn.Module], float],
    *,
    example_inputs: Tensor,
    calib: Iterable[Any],
    latency_budget_ms: float,
    runtime: str = 'onnxruntime',
    weight_bits: Sequence[int] = (4, 8, 16),
    act_bits: Sequence[int] = (8, 16),
    fixed: Mapping[str, Any] | None = None,
    uniform_bits: tuple[int, int] | None = None,
    bit_pairs: Sequence[tuple[int, int]] | None | str = 'runtime',
    work_dir: str | os.PathLike[str] | None = None,
    resume: bool = True,
    num_candidates: int = 20,
    top_k: int = 5,
    max_epochs: int = 5,
    final_candidates: int = 5,
    final_reserve: int = 3,
    seed: int = 0,
    init_candidates: Sequence[Mapping[str, Any]] | None = None,
    table: LatencyTable | None = None,
    timing_repeats: int = 50,
    timing_stat: str = 'min',
    table_passes: int = 1,
    final_sessions: int = 3,
    threads: int | None = None,
    final_eval_fn: Callable[[nn.Module], float] | None = None,
) -> CompressionResult:
    """Joint search of operators, channel widths and per-unit bit widths under a latency budget.

    Steps: build the space (:class:`JointCompression` around ``model`` unless it is one);
    ``train_fn(algorithm)`` trains it (sandwich rule, QAT-aware: call ``algorithm.train_step``)
    or, with ``work_dir`` and ``resume``, its saved weights are loaded; fake quants are
    calibrated on ``calib``; the latency table of ``runtime`` on this CPU is built (or read from
    ``work_dir``); an evolution search keeps candidates whose *predicted* latency is within
    ``latency_budget_ms`` (checkpointed, resumable); the top ``final_candidates`` are deployed
    (static, calibrated, QDQ) and measured *exactly* in ``runtime``; the most accurate one within
    the budget as measured is exported.

    Args:
        model: a supernet with operator / width mutables, or a :class:`JointCompression`.
        train_fn: trains the algorithm (None: take the supernet as trained).
        eval_fn: ``eval_fn(model) -> accuracy`` (higher is better); called on the supernet with a
            subnet set, and on deployed static models.
        example_inputs: ``(N, C, H, W)`` batch whose shape is exported and timed.
        calib: calibration batches (tensors or ``(inputs, targets)``).
        latency_budget_ms: the constraint.
        runtime: ``'onnxruntime'`` or ``'openvino'``.
        weight_bits, act_bits: bit choices when ``model`` is a plain supernet.
        fixed: search groups held fixed; ``uniform_bits=(w, a)`` holds every bit group at
            ``w`` / ``a`` bits (the "search, then uniform int8" baseline is ``(8, 8)``).
        bit_pairs: the (weight, activation) pairs a unit may take; ``'runtime'`` (default):
            what ``runtime`` accelerates (:data:`~razor_ext.joint.bit_pairs.RUNTIME_BIT_PAIRS`:
            int8 or float per unit in OpenVINO, any pair in onnxruntime); None: any pair.
        work_dir: where the weights, latency table, search checkpoint, subnet, ONNX and plot go.
        num_candidates, top_k, max_epochs, seed: evolution search settings.
        init_candidates: choices the search's first population starts from (those within the
            budget), e.g. the finals of a "search, then int8" run: the joint space holds them,
            so the joint search starts where the narrower one ended.
        final_candidates: how many top candidates are deployed and measured.
        final_reserve: when measured finals exceed the budget, the next-best candidates are
            measured too, up to ``final_reserve * final_candidates`` in all, until
            ``final_candidates`` fit the budget as measured.
        table: a latency table to use instead of building one.
        timing_repeats: timed runs per table entry and per final measurement.
        timing_stat: ``'min'`` (the uncontended time, robust on a shared host) or ``'median'``
            of those runs, for the table and the finals alike.
        table_passes: the table is measured this many times over, each entry the median
            (:func:`~razor_ext.joint.latency.build_latency_table`'s ``passes``).
        final_sessions: each final is timed in this many fresh runtime sessions, the
            ``timing_stat`` of them kept: on a shared host one session can run slow
            throughout, and a final's measurement decides whether it fits the budget.
        threads: the runtime's intra-op threads for the table and the finals (None: the
            given ``table``'s, else ``torch.get_num_threads()``).
        final_eval_fn: accuracy of the deployed finals (e.g. on a held-out test split; default
            ``eval_fn``).

    Returns:
        :class:`CompressionResult`.
    """
    if latency_budget_ms <= 0:
        raise ValueError(f'latency_budget_ms must be > 0, got {latency_budget_ms}')
    if final_sessions < 1:
        raise ValueError(f'final_sessions must be >= 1, got {final_sessions}')
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f'threads must be an int >= 1, got {threads!r}')
    work = Path(work_dir) if work_dir is not None else None
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
    algo = model if isinstance(model, JointCompression) else JointCompression(
        model, tuple(example_inputs.shape), weight_bits, act_bits)
    space, net = algo.space, algo.architecture
    space.fixed = dict(fixed or {})
    space.bit_pairs = bit_pairs_for(runtime) if bit_pairs == 'runtime' else bit_pairs
    if uniform_bits is not None:
        space.fixed.update(space.uniform_bits(*uniform_bits))
    space.example_inputs = example_inputs
    calib = [_inputs(b) for b in calib]
    weights = work / 'supernet.pt' if work is not None else None
    if weights is not None and resume and weights.exists():
        algo.load_state_dict(torch.load(weights, weights_only=True))
    elif train_fn is not None:
        algo.train()
        train_fn(algo)
        if weights is not None:
            with atomic_path(weights) as tmp:
                torch.save(algo.state_dict(), tmp)
    calibrate_supernet(algo, calib, seed)
    net.eval()

    if threads is None and table is not None:
        threads = table.signature.get('threads')
    threads = int(threads or torch.get_num_threads())
    if table is None:
        cache = work / f'latency_{runtime}.json' if work is not None else None
        table = build_latency_table(space, calib, runtime, cache, repeats=timing_repeats,
                                    stat=timing_stat, passes=table_passes, threads=threads)
    tag = 'joint' if uniform_bits is None else f'w{uniform_bits[0]}a{uniform_bits[1]}'
    # the budget is part of the name: a search under another budget is another search
    ckpt = work / f'search_{tag}_{latency_budget_ms:.4g}ms.pkl' if work is not None else None
    progress: list[tuple[int, list[Any]]] = []
    try:
        search = evolution_search(
            # the space itself is the mutator (it holds `fixed`), not its inner NasMutator
            space, lambda s: float(eval_fn(s.supernet)), mutator=space,
            constraints={'latency': (None, latency_budget_ms)},
            estimator=lambda s: {'latency': table.predict(s.supernet)},
            num_candidates=num_candidates, top_k=top_k, num_mutation=num_candidates // 2,
            num_crossover=num_candidates // 4, max_epochs=max_epochs, seed=seed, resume=resume,
            checkpoint=ckpt, on_epoch_end=lambda epoch, best: progress.append((epoch, best)),
            init_candidates=init_candidates)
    except SearchConstraintError:
        # a small space under a tight budget runs out of new valid subnets: keep what was found
        if not progress:
            raise
        epoch, best = progress[-1]
        search = SearchResult(dict(best[0].choices), best[0].score, dict(best[0].resources),
                              list(best), list(best), epoch)
    finals: list[FinalCandidate] = []
    # best-scoring first; when the exact measurement puts some over the budget (a search picks
    # the subnets its table underrates most), the next ones are measured too, until
    # ``final_candidates`` fit or ``final_reserve`` times as many were measured
    ranked = _distinct_best(search, space, final_candidates * max(1, final_reserve))
    for cand in ranked:
        if len(finals) >= final_candidates and (
                sum(f.measured_ms <= latency_budget_ms for f in finals) >= final_candidates
                or len(finals) >= final_candidates * max(1, final_reserve)):
            break
        space.set_choices(cand.choices)
        deployed = deployable_subnet(space, calib)
        finals.append(FinalCandidate(space.normalize(cand.choices), float(cand.resources['latency']),
                                     measure_subnet(deployed, example_inputs, runtime,
                                                    repeats=timing_repeats, stat=timing_stat,
                                                    sessions=final_sessions, threads=threads),
                                     cand.score, float((final_eval_fn or eval_fn)(deployed))))
    within = [f for f in finals if f.measured_ms <= latency_budget_ms]
    best = (max(within, key=lambda f: f.accuracy) if within
            else min(finals, key=lambda f: f.measured_ms))
    space.set_choices(best.choices)
    front = pareto_front([(f.measured_ms, f.accuracy) for f in finals])
    onnx_path = subnet_path = plot_path = None
    subnet = space.subnet()
    if work is not None:
        subnet_path = work / f'subnet_{tag}.yaml'
        space.subnet(subnet_path)
        onnx_path = export_deployable(deployable_subnet(space, calib), example_inputs,
                                      work / f'model_{tag}.onnx', verify=True, atol=1e-2,
                                      rtol=1e-2)
        plot_path = plot_fronts({tag: [(f.measured_ms, f.accuracy) for f in finals]},
                                work / f'pareto_{tag}.png', f'{runtime}: accuracy vs latency',
                                latency_budget_ms)
    return CompressionResult(best, subnet, onnx_path, subnet_path, plot_path, finals, front, search,
                             table)
