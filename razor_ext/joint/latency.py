"""Build a joint space's latency table in the target runtime and check its predictions against
whole-subnet measurements."""
from __future__ import annotations

import dataclasses
import os
import random
import statistics
from collections.abc import Callable, Sequence

from torch import Tensor

from razor_ext.estimators.latency_table import LatencyTable
from razor_ext.estimators.runtime_timing import cpu_signature
from razor_ext.joint.deploy import deployable_subnet, measure_subnet
from razor_ext.joint.space import JointSearchSpace
from razor_ext.joint.unit_timer import UnitTimer, default_context

__all__ = ['build_latency_table', 'PredictionCheck', 'check_prediction']


def build_latency_table(space: JointSearchSpace, calib: Sequence[Tensor], runtime: str = 'onnxruntime',
                        cache: str | os.PathLike[str] | None = None, *, warmup: int = 10,
                        repeats: int = 50, progress: Callable[[int, int], None] | None = None,
                        context: str | None = None, stat: str = 'min',
                        sessions: int = 1) -> LatencyTable:
    """The latency table of ``space`` in ``runtime`` on this CPU: every unit's candidates (input
    width x operator x width x bit widths), each deployed and timed in context (its real input
    shape and bit widths), by :class:`~razor_ext.joint.unit_timer.UnitTimer`: ``context='alone'``
    (the unit by itself, less the per-call cost) or ``'prefix'`` (the time the unit adds to the
    chain of units before it); None picks the runtime's default (``'prefix'`` for OpenVINO).
    ``stat``: ``'min'`` (default: the uncontended time, robust on a shared host) or
    ``'median'`` of the timed runs; ``sessions``: each figure the median over that many fresh
    runtime sessions (a shared VM can run one session slow throughout). Mode, statistic and
    sessions are part of the table's signature: a cached table measured otherwise is measured
    again.

    With ``cache`` an existing table of the same runtime, units and host is reused and only the
    missing entries are measured; the file is rewritten atomically after filling.

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
    context = default_context(runtime) if context is None else context
    timing = f'{context}/{stat}' + (f'/{sessions} sessions' if sessions > 1 else '')
    signature = {**cpu_signature(), 'unit_timing': timing}
    timer = UnitTimer(space, calib, runtime, warmup=warmup, repeats=repeats, context=context,
                      stat=stat, sessions=sessions)
    groups = timer.context_groups
    table = (LatencyTable.cached(cache, runtime, space.units, signature, groups) if cache is not None
             else LatencyTable(runtime, space.units, signature, context_groups=groups))
    was_training = space.supernet.training
    space.supernet.eval()
    try:
        # only the bit pairs the space can take (all, unless it keeps to a runtime's pairs)
        measured = table.fill(space.supernet, timer, progress=progress, allowed=space.allows)
        if measured or not table.entries:
            # after the entries: in 'prefix' mode it comes from the same rounds as they do
            table.overhead_ms = timer.model_overhead()
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
                     repeats: int = 50, stat: str = 'min', sessions: int = 1) -> PredictionCheck:
    """Sample ``num_subnets`` subnets, deploy and time each whole (``stat`` of ``repeats``
    runs: use the table's; the median over ``sessions`` fresh sessions), compare with the
    table's sum.

    The space's choices are restored afterwards.
    """
    saved = space.current_choices
    state = random.getstate()
    random.seed(seed)
    predicted, measured = [], []
    try:
        for _ in range(num_subnets):
            space.set_choices(space.sample_choices())
            predicted.append(table.predict(space.supernet))
            model = deployable_subnet(space, calib)
            measured.append(measure_subnet(model, space.example_inputs, table.runtime,
                                           warmup=warmup, repeats=repeats, stat=stat,
                                           sessions=sessions))
    finally:
        random.setstate(state)
        space.set_choices(saved)
    errors = [abs(p - m) / m for p, m in zip(predicted, measured)]
    return PredictionCheck(predicted, measured, errors)
