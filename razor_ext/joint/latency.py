"""Build a joint space's latency table in the target runtime and check its predictions against
whole-subnet measurements."""
from __future__ import annotations

import dataclasses
import os
import random
import statistics
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from torch import Tensor

from razor_ext.estimators.latency_table import LatencyTable
from razor_ext.estimators.runtime_timing import cpu_signature, time_onnx_files
from razor_ext.joint.deploy import deployable_subnet, export_deployable
from razor_ext.joint.space import JointSearchSpace
from razor_ext.joint.unit_timer import UnitTimer, default_context

__all__ = ['build_latency_table', 'PredictionCheck', 'check_prediction']


def build_latency_table(space: JointSearchSpace, calib: Sequence[Tensor], runtime: str = 'onnxruntime',
                        cache: str | os.PathLike[str] | None = None, *, warmup: int = 10,
                        repeats: int = 50, progress: Callable[[int, int], None] | None = None,
                        context: str | None = None, stat: str = 'min',
                        passes: int = 1, threads: int | None = None) -> LatencyTable:
    """The latency table of ``space`` in ``runtime`` on this CPU: every unit's candidates (input
    width x operator x width x bit widths), each deployed and timed in context (its real input
    shape and bit widths), by :class:`~razor_ext.joint.unit_timer.UnitTimer`: ``context='alone'``
    (the unit by itself, less the per-call cost) or ``'prefix'`` (the time the unit adds to the
    chain of units before it); None picks the runtime's default (``'prefix'`` for OpenVINO).

    Args:
        stat: ``'min'`` (default: the uncontended time, robust on a shared host) or
            ``'median'`` of the timed runs.
        passes: the table is measured this many times over, one pass after another, and each
            entry (and the per-call cost) is the median over the passes. Why: a shared VM has
            slow phases of a minute or more; one in a single pass lifts every entry timed in
            it (onnxruntime, 2-core AMD EPYC: a whole table 20-40% high), and the median of
            three passes outvotes it.
        threads: the runtime's intra-op threads (None: ``torch.get_num_threads()``).

    Mode, statistic, passes and threads are part of the table's signature: a cached table
    measured otherwise is measured again. With ``cache`` an existing table of the same runtime,
    units and host is reused and only the missing entries are measured; the file is rewritten
    atomically after filling.

    Example:
        >>> import torch
        >>> from razor_ext.architectures import SearchableSlimNet
        >>> net = SearchableSlimNet(stem_channels=4, widths=((4,),), strides=(2,))
        >>> space = JointSearchSpace(net, torch.randn(1, 1, 8, 8), weight_bits=(8,), act_bits=(8,))
        >>> _ = net(torch.randn(2, 1, 8, 8))  # observe once
        >>> table = build_latency_table(space, [torch.randn(2, 1, 8, 8)], repeats=2, warmup=1)
        >>> len(table), table.predict(net) > 0
        (5, True)
    """
    if not isinstance(passes, int) or passes < 1:
        raise ValueError(f'passes must be an int >= 1, got {passes!r}')
    context = default_context(runtime) if context is None else context
    timing = f'{context}/{stat}' + (f'/{passes} passes' if passes > 1 else '')
    timers = [UnitTimer(space, calib, runtime, warmup=warmup, repeats=repeats, context=context,
                        stat=stat, threads=threads) for _ in range(passes)]
    signature = {**cpu_signature(timers[0].threads), 'unit_timing': timing}
    groups = timers[0].context_groups
    table = (LatencyTable.cached(cache, runtime, space.units, signature, groups) if cache is not None
             else LatencyTable(runtime, space.units, signature, context_groups=groups))
    was_training = space.supernet.training
    space.supernet.eval()
    try:
        # each pass a table of its own over what the cached one lacks, with a timer of its own
        # (its per-call cost taken in its own rounds)
        runs, measured = [], 0
        for i, timer in enumerate(timers):
            run = LatencyTable(runtime, space.units, signature, dict(table.entries),
                               context_groups=groups)
            # only the bit pairs the space can take (all, unless it keeps to a runtime's pairs)
            measured = run.fill(space.supernet, timer, allowed=space.allows,
                                progress=None if progress is None else
                                lambda k, n, i=i: progress(i * n + k, passes * n))
            runs.append(run)
        if measured or not table.entries:
            for key in runs[0].entries.keys() - table.entries.keys():
                table.entries[key] = statistics.median(run.entries[key] for run in runs)
            # after the entries: in 'prefix' mode it comes from the same rounds as they do
            table.overhead_ms = statistics.median(timer.model_overhead() for timer in timers)
    finally:
        space.supernet.train(was_training)
    if cache is not None:
        table.save(cache)
    return table


@dataclasses.dataclass
class PredictionCheck:
    """Predicted vs measured milliseconds of whole subnets.

    Attributes:
        predicted, measured: per sampled subnet.
        errors: ``|predicted - measured| / measured`` per subnet.
        mean_error, max_error: of ``errors``.
    """
    predicted: list[float]
    measured: list[float]
    errors: list[float]

    @property
    def mean_error(self) -> float:
        return statistics.fmean(self.errors)

    @property
    def max_error(self) -> float:
        return max(self.errors)


def check_prediction(space: JointSearchSpace, table: LatencyTable, calib: Sequence[Tensor],
                     num_subnets: int = 5, *, seed: int = 0, warmup: int = 10,
                     repeats: int = 50, stat: str = 'min', sessions: int = 1,
                     threads: int | None = None) -> PredictionCheck:
    """Sample ``num_subnets`` subnets, deploy and time each whole (``stat`` of ``repeats``
    runs: use the table's; the same ``stat`` over ``sessions`` fresh sessions, spread over as
    many passes over the subnets (:func:`~razor_ext.estimators.time_onnx_files`); ``threads``
    intra-op threads, None: the table's), compare with the table's sum.

    The space's choices are restored afterwards.
    """
    threads = threads or table.signature.get('threads')
    saved = space.current_choices
    state = random.getstate()
    random.seed(seed)
    predicted, paths = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(num_subnets):
                space.set_choices(space.sample_choices())
                predicted.append(table.predict(space.supernet))
                paths.append(export_deployable(deployable_subnet(space, calib), space.example_inputs,
                                               Path(tmp) / f'subnet{i}.onnx', verify=False))
            measured = time_onnx_files(paths, tuple(space.example_inputs.shape), table.runtime,
                                       warmup=warmup, repeats=repeats, stat=stat,
                                       sessions=sessions, threads=threads)
    finally:
        random.setstate(state)
        space.set_choices(saved)
    errors = [abs(p - m) / m for p, m in zip(predicted, measured)]
    return PredictionCheck(predicted, measured, errors)
