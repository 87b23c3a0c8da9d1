"""``UnitTimer``: what one unit of the current joint subnet costs in the target runtime, the
figure a latency table stores.

Two ways to measure it:

- ``'alone'``: the unit exported by itself (its real input shape and bit widths) and timed, less
  the runtime's per-call cost for that input. Right where a runtime runs each layer as written
  (onnxruntime here: 5% mean error on whole subnets).
- ``'prefix'``: the time the unit *adds to a model*: the chain of units up to and including it,
  minus the same chain without it, both exported and timed round robin (median of the per-round
  differences). The first unit's chain-without-it is an identity on the input, the per-call cost
  itself. Boundary costs (layout reorders and quantize / dequantize at a graph's output, the
  runtime's per-inference cost) then cancel in the sum, and the fusion of a unit with the one
  before it (int8 output feeding an int8 conv) is inside the measurement. OpenVINO needs this:
  timed alone, each sub-millisecond unit carries an output reorder and dequantize that the whole
  graph fuses away, and the sum over-predicted whole subnets by 68% (outputs copied out then,
  see below).

In ``'prefix'`` mode the units before the measured one run a fixed context: the choices that
are not part of the unit's table key take their smallest value (the cheapest chain: least timing
noise in the difference), and bit widths take the measured unit's own (a homogeneous chain, so
the boundary into the unit is fused as in a uniformly quantized model). The sum telescopes only
if the chain without the unit ends in the tensor the unit really receives; its shape is fixed by
the unit's key (its input width) except after a unit without mutables (a pool), whose output
follows a width that is not in the next key. Such a unit is therefore measured together with
the unit after it (its own entry is 0), and the chain without them ends before both.

Timings take the minimum of ``repeats`` runs by default (``stat='min'``): on a shared host other
processes only ever add time, and the difference of two medians taken under load moved by more
than the unit costs (a 0.1 ms unit read as -1.9 ms to +2.6 ms under a load of 15 on 2 cores),
where the difference of minimums stayed within 0.1 ms. In 'prefix' mode the rounds are split
into three windows and the median of the three differences of minimums is kept.

Runs are timed with :meth:`~razor_ext.export.RuntimeSession.run_only`, outputs left in the
runtime: a chain's output is large (a feature map), and copying it out cost page faults that
followed the allocator's history (one conv read 0.31-0.56 ms with the copy, 0.21-0.23 ms
without), which no difference of two chains cancels. A shared host's slow phases are the
business of :func:`~razor_ext.joint.latency.build_latency_table`'s ``passes``.
"""
from __future__ import annotations

import copy
import statistics
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.estimators.latency_table import unit_mutables
from razor_ext.estimators.runtime_timing import STATS, time_onnx, time_onnx_rounds
from razor_ext.joint.deploy import (chain_qconfig, export_deployable, measure_subnet,
                                    quantize_static, sub_qconfig)
from razor_ext.joint.space import JointSearchSpace

__all__ = ['UnitTimer', 'CONTEXTS', 'default_context', 'previous_unit_groups']

CONTEXTS = ('alone', 'prefix')


def default_context(runtime: str) -> str:
    """The unit-timing mode that predicts ``runtime``'s whole-model latency best here:
    ``'prefix'`` for OpenVINO (it fuses across units), ``'alone'`` for onnxruntime.

    Example:
        >>> default_context('openvino'), default_context('onnxruntime')
        ('prefix', 'alone')
    """
    return 'prefix' if runtime == 'openvino' else 'alone'


def previous_unit_groups(units: Sequence[str], own: Mapping[str, set[str]]) -> dict[str, list[str]]:
    """``{unit: the search groups named under the nearest unit before it that has some}`` (its
    operator, width, bit widths) for every unit with search groups of its own (key-less units,
    measured with the next, get none).

    Why: in 'prefix' timing the chain without a unit ends in the unit before it, whose output
    (a graph output there: reorder, dequantize, copy) costs by its operator, width and bit widths.
    With those in the key, that cost is the same in the two measurements that share the chain,
    and cancels in the sum; an int8 <-> float boundary between the two units is measured too.

    Example:
        >>> own = {'stem': {'stem.weight_bits'}, 'pool': set(), 'head': {'head.act_bits', 'stem.width'}}
        >>> previous_unit_groups(['stem', 'pool', 'head'], own)
        {'head': ['stem.weight_bits']}
    """
    out: dict[str, list[str]] = {}
    last: list[str] = []
    for unit in units:
        mine = sorted(g for g in own[unit] if g.startswith(unit + '.'))
        if own[unit] and last:
            out[unit] = [g for g in last if g not in own[unit]]
        if mine:
            last = mine
    return out


def _identity_onnx(shape: tuple[int, ...], path: Path) -> Path:
    """An identity-like model on ``shape``: the runtime's per-call cost for that input."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', category=DeprecationWarning)
        # a Relu, not an Identity node: runtimes may elide an Identity graph entirely
        torch.onnx.export(nn.ReLU(), (torch.zeros(shape),), str(path), dynamo=False, opset_version=17)
    return path


class UnitTimer:
    """``timer(unit) -> ms``: the cost of ``unit`` in the current subnet of ``space`` (see the
    module docstring for the two modes).

    Args:
        space: the joint search space.
        calib: calibration batches (``(N, C, H, W)``; units are calibrated on what reaches them).
        runtime: ``'onnxruntime'`` or ``'openvino'``.
        warmup, repeats: timing runs per measurement.
        context: ``'alone'`` or ``'prefix'`` (None: :func:`default_context` of ``runtime``).
        stat: ``'min'`` or ``'median'`` of the timed runs.
        threads: the runtime's intra-op threads (None: ``torch.get_num_threads()``); a table
            holds for one thread count.

    Example:
        >>> from razor_ext.architectures import SearchableSlimNet
        >>> net = SearchableSlimNet(stem_channels=4, widths=((4,),), strides=(2,))
        >>> space = JointSearchSpace(net, torch.randn(1, 1, 8, 8), weight_bits=(8,), act_bits=(8,))
        >>> _ = net(torch.randn(2, 1, 8, 8))  # observe once
        >>> timer = UnitTimer(space, [torch.randn(2, 1, 8, 8)], context='prefix', repeats=2, warmup=1)
        >>> isinstance(timer('blocks.0'), float)
        True
    """

    def __init__(self, space: JointSearchSpace, calib: Sequence[Tensor], runtime: str = 'onnxruntime',
                 warmup: int = 10, repeats: int = 50, context: str | None = None,
                 stat: str = 'min', threads: int | None = None) -> None:
        context = default_context(runtime) if context is None else context
        if context not in CONTEXTS:
            raise ValueError(f'context must be one of {CONTEXTS}, got {context!r}')
        if stat not in STATS:
            raise ValueError(f'stat must be one of {STATS}, got {stat!r}')
        if not calib:
            raise ValueError('UnitTimer needs at least one calibration batch')
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ValueError(f'threads must be an int >= 1, got {threads!r}')
        self.threads = threads or torch.get_num_threads()
        self.space, self.calib, self.runtime, self.context = space, list(calib), runtime, context
        self.warmup, self.repeats, self.stat = warmup, repeats, stat
        self._overhead: dict[tuple[int, ...], float] = {}
        #: 'prefix': the identity chain's figures, timed in the same rounds as the first units
        self._identity_ms: list[float] = []
        self._own = {u: set(g) for u, g in unit_mutables(space.supernet, space.units).items()}
        #: ``{unit: [search groups of the unit before it]}`` in 'prefix' mode: part of the
        #: unit's table key (a LatencyTable's ``context_groups``), see previous_unit_groups
        self.context_groups = previous_unit_groups(space.units, self._own) if context == 'prefix' else {}
        self._keys = {u: self._own[u] | set(self.context_groups.get(u, ())) for u in self._own}

    def overhead(self, shape: tuple[int, ...]) -> float:
        """The runtime's per-call cost (ms) for an input of ``shape``."""
        if shape not in self._overhead:
            with tempfile.TemporaryDirectory() as tmp:
                path = _identity_onnx(shape, Path(tmp) / 'identity.onnx')
                self._overhead[shape] = time_onnx(path, shape, self.runtime, warmup=self.warmup,
                                                  repeats=self.repeats, stat=self.stat,
                                                  threads=self.threads)
        return self._overhead[shape]

    def model_overhead(self) -> float:
        """The per-call cost for the space's example input (a table's ``overhead_ms``).

        In 'prefix' mode, once a first unit has been measured: the identity chain's figure from
        the same rounds (the sum telescopes onto it). An identity timed on its own, minutes
        apart from the entries, read 0.199 ms against 0.140 ms in the rounds on a 2-core VM.
        """
        if self._identity_ms:
            return statistics.median(self._identity_ms)
        return self.overhead(tuple(self.space.example_inputs.shape))

    def __call__(self, unit: str) -> float:
        if unit not in self._keys:
            raise KeyError(f'{unit!r} is not a unit of the space ({self.space.units})')
        return self._alone(unit) if self.context == 'alone' else self._in_prefix(unit)

    # ------------------------------------------------------------------ alone
    def _alone(self, unit: str) -> float:
        static = self.space.static_subnet()
        qconfig = sub_qconfig(self.space.qconfig(static), unit)
        module = static.get_submodule(unit)
        inputs: list[Tensor] = []
        handle = module.register_forward_pre_hook(lambda m, args: inputs.append(args[0].detach()))
        try:
            with torch.no_grad():
                for batch in self.calib:
                    static(batch)
                static(self.space.example_inputs)
        finally:
            handle.remove()
        example = inputs.pop()
        part = quantize_static(nn.Sequential(module), qconfig, inputs)
        ms = measure_subnet(part, example, self.runtime, warmup=self.warmup, repeats=self.repeats,
                            stat=self.stat, threads=self.threads)
        return ms - self.overhead(tuple(example.shape))

    # ------------------------------------------------------------------ in its prefix
    def context_choices(self, unit: str) -> dict[str, Any]:
        """The current choices with everything outside ``unit``'s table key set to the fixed
        context: smallest choice, bit widths equal to those of the unit before it (in the key),
        or to the unit's own for the first."""
        space, key = self.space, self._keys[unit]
        current = space.current_choices
        source = sorted(g for g in (self.context_groups.get(unit) or self._own[unit])
                        if g.endswith(('.weight_bits', '.act_bits'))) or sorted(self._own[unit])
        own = {suffix: current[g] for g in source for suffix in ('.weight_bits', '.act_bits')
               if g.endswith(suffix)}
        lowest = space.mutator.sample_choices('min')
        out = {}
        for group, value in current.items():
            if group in key:
                out[group] = value
                continue
            suffix = next((s for s in own if group.endswith(s)), None)
            out[group] = own[suffix] if suffix is not None else lowest[group]
        return out

    def _chain_start(self, index: int) -> int:
        """Where the chain without unit ``index`` ends: before it and any key-less units
        right before it (measured with it)."""
        units = self.space.units
        start = index
        while start > 0 and not self._own[units[start - 1]]:
            start -= 1
        return start

    def _in_prefix(self, unit: str) -> float:
        space = self.space
        index = space.units.index(unit)
        if not self._own[unit] and index + 1 < len(space.units):
            return 0.0  # measured with the next unit (see the module docstring)
        start = self._chain_start(index)
        saved = space.current_choices
        try:
            space.set_choices(self.context_choices(unit))
            static = space.static_subnet()
            qconfig = space.qconfig(static)
        finally:
            space.set_choices(saved)
        x = space.example_inputs
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for n in (start, index + 1):  # the chain without the unit, then with it
                if n == 0:
                    paths.append(_identity_onnx(tuple(x.shape), Path(tmp) / 'chain0.onnx'))
                    continue
                units = space.units[:n]
                chain = nn.Sequential(*(copy.deepcopy(static.get_submodule(u)) for u in units))
                model = quantize_static(chain, chain_qconfig(qconfig, units), self.calib)
                paths.append(export_deployable(model, x, Path(tmp) / f'chain{n}.onnx', verify=False))
            without, with_unit = time_onnx_rounds(paths, tuple(x.shape), self.runtime,
                                                  warmup=self.warmup, repeats=self.repeats,
                                                  threads=self.threads)
            if start == 0:
                self._identity_ms.append(self._difference([0.0] * len(without), without))
            return self._difference(without, with_unit)

    def _difference(self, without: list[float], with_unit: list[float]) -> float:
        """What the unit adds, from one pair of sessions timed round robin."""
        if self.stat == 'min':
            # three windows of consecutive rounds, the median of their differences of minimums:
            # a burst of load that spans one window (and lifts one file's minimum there) is
            # outvoted by the other two
            n = len(with_unit)
            cuts = [(i * n // 3, (i + 1) * n // 3) for i in range(3)] if n >= 3 else [(0, n)]
            return statistics.median(min(with_unit[a:b]) - min(without[a:b]) for a, b in cuts)
        return statistics.median(b - a for a, b in zip(without, with_unit))
