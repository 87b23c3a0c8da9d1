"""``ResourceEstimator``: FLOPs and parameters of what a forward actually runs (so a supernet is
counted by its current choices), and latency measured when asked."""
from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from razor_ext.supernet.dynamic_ops.dynamic_mixin import DynamicMixin
from razor_ext.supernet.mutables.base_mutable import BaseMutable
from razor_ext.estimators.analytic_plan import AnalyticPlan
from razor_ext.estimators.latency import LatencyMeter
from razor_ext.estimators.mmrazor_counter import mmrazor_macs
from razor_ext.estimators.latency_table import LatencyTable
from razor_ext.estimators import op_flops  # noqa: F401  (FLOPs of our ops)
from razor_ext.registry import TASK_UTILS


@TASK_UTILS.register_module()
class ResourceEstimator:
    """Estimate ``flops``, ``params`` (and ``latency`` when ``measure_latency``) of a model.

    One forward of a zero input of ``input_shape`` runs under torch's ``FlopCounterMode``, which
    counts functional ops (matmul, attention, interpolate...) as well as module calls and sees
    the true ``groups`` of grouped/depthwise convs. ``params`` counts each parameter of the
    modules that ran exactly once, so a supernet reports its current subnet: unchosen candidates
    are not counted, and a dynamic op counts the active slice of its weights
    (``count_active_params``) and the FLOPs of its active sub-op. Units: ``flops`` are
    **FLOPs** (2 per multiply-add; MMRazor reports multiply-adds, i.e. half of this), in millions
    when ``units='M'``; ``params`` likewise.

    A supernet (a model with mutables) is counted *analytically* when ``analytic`` (default):
    the first call builds an :class:`AnalyticPlan` from a few recorded forwards and checks it
    against counted forwards of other subnets; later calls read the current choices only, no
    forward and no copy (well under 1 ms a candidate on a ResNet-50-sized supernet). Where no
    plan can be made (see ``AnalyticPlan``: e.g. FLOPs outside convs and linears, or a branch
    on a width) every call counts a forward; :attr:`last_method` says which way the last
    estimate went and :meth:`plan_for` gives the plan and its ``reason``. Build a new estimator
    (or call :meth:`forget`) after changing a supernet's modules or mutables.

    Args:
        input_shape: the example input shape, e.g. ``(1, 3, 224, 224)``.
        units: ``'M'`` (millions), ``'G'`` or None (raw counts).
        measure_latency: also time the model: ``latency`` in ms (median of ``repeats`` runs
            after ``warmup``, by :class:`LatencyMeter`) and ``latency_backend``; measured once
            per subnet (cached by the supernet's current choices).
        latency_backend: ``'torch'`` (eager, on the model's device) or ``'onnxruntime'`` (the
            static subnet exported to ONNX, on CPU).
        latency_measure: a callable ``(model, input_shape) -> result with median_ms, runtime``
            that times the static subnet instead, e.g.
            ``razor_ext.export.latency_measure('openvino', threads=2)`` (see :class:`LatencyMeter`).
        analytic: count supernets from their choices (see above); False: always a forward.
        counter: ``'torch'`` (the default described above) or ``'mmrazor'``: ``flops`` are then
            multiply-adds counted as MMRazor's estimator counts them (norms, activations and
            pooling included; :func:`~razor_ext.estimators.mmrazor_counter.mmrazor_macs`), one
            forward per call; use it to compare with the FLOPs of MMRazor's tables.
        latency_table: a filled :class:`~razor_ext.estimators.latency_table.LatencyTable`:
            ``latency`` is its prediction for the current subnet (a lookup, no export or
            timing), ``latency_backend`` names its runtime; takes precedence over
            ``measure_latency``.

    Example:
        >>> est = ResourceEstimator(input_shape=(1, 3, 8, 8), units=None)
        >>> est.estimate(nn.Conv2d(3, 4, 3, bias=False))
        {'flops': 7776, 'params': 108}
    """

    def __init__(self, input_shape: Sequence[int] = (1, 3, 224, 224), units: str | None = 'M',
                 measure_latency: bool = False, warmup: int = 3, repeats: int = 10,
                 analytic: bool = True, latency_backend: str = 'torch', counter: str = 'torch',
                 latency_measure: Any = None, latency_table: LatencyTable | None = None) -> None:
        if units not in ('M', 'G', None):
            raise ValueError(f"units must be 'M', 'G' or None, got {units!r}")
        if counter not in ('torch', 'mmrazor'):
            raise ValueError(f"counter must be 'torch' or 'mmrazor', got {counter!r}")
        self.counter = counter
        self.input_shape, self.units = tuple(input_shape), units
        self.measure_latency = measure_latency
        self.latency_meter = LatencyMeter(self.input_shape, latency_backend, warmup, repeats,
                                          measure=latency_measure)
        self.analytic = analytic
        self.latency_table = latency_table
        self.last_method: str | None = None  # 'analytic' or 'forward'
        self._plans: weakref.WeakKeyDictionary[nn.Module, AnalyticPlan] = weakref.WeakKeyDictionary()

    def _scale(self, value: int) -> float | int:
        return value if self.units is None else value / (1e6 if self.units == 'M' else 1e9)

    def estimate(self, model: nn.Module) -> dict[str, Any]:
        """``{'flops': ..., 'params': ...}`` (+ ``'latency'`` in ms) of the subnet currently set."""
        plan = self.plan_for(model) if self.analytic and self.counter == 'torch' else None
        counted = plan.estimate() if plan is not None and plan.usable else None
        self.last_method = 'forward' if counted is None else 'analytic'
        if counted is None:
            x = torch.zeros(self.input_shape, device=self._device(model))
            counted = self.count_forward(model, x)
            if self.counter == 'mmrazor':
                was_training = model.training
                model.eval()  # MMRazor counts in eval mode
                try:
                    counted = (mmrazor_macs(model, x), counted[1])
                finally:
                    model.train(was_training)
        result: dict[str, Any] = {'flops': self._scale(counted[0]), 'params': self._scale(counted[1])}
        if self.latency_table is not None:
            result['latency'] = self.latency_table.predict(model)
            result['latency_backend'] = f'{self.latency_table.runtime} (table)'
        elif self.measure_latency:
            result.update(self._latency(model))
        return result

    def _latency(self, model: nn.Module) -> dict[str, Any]:
        mutables = [m for m in model.modules() if isinstance(m, BaseMutable)]
        key = tuple(repr(m.current_choice) for m in mutables) if mutables else None
        meter = self.latency_meter
        if mutables and meter.deployed and key not in meter:
            from razor_ext.supernet.fix_subnet import export_fix_subnet  # structures build on models
            _, model = export_fix_subnet(model, slice_weight=True)  # what would be deployed
        r = meter.measure(model, key)
        return {'latency': r.median_ms, 'latency_backend': r.backend}

    @staticmethod
    def _device(model: nn.Module) -> torch.device:
        return next((p.device for p in model.parameters()), torch.device('cpu'))

    def plan_for(self, model: nn.Module) -> AnalyticPlan | None:
        """The analytic plan of a supernet (built on first use), None for a model without
        mutables."""
        plan = self._plans.get(model)
        if plan is None:
            if not any(isinstance(m, BaseMutable) for m in model.modules()):
                return None
            was_training = model.training
            model.eval()
            try:
                plan = AnalyticPlan.build(model, torch.zeros(self.input_shape, device=self._device(model)),
                                          self.count_forward)
            finally:
                model.train(was_training)
            self._plans[model] = plan
        return plan

    def forget(self, model: nn.Module) -> None:
        """Drop ``model``'s analytic plan (after changing its modules or mutables)."""
        self._plans.pop(model, None)

    @staticmethod
    def count_forward(model: nn.Module, x: torch.Tensor) -> tuple[int, int]:
        """``(flops, params)``, raw counts, of one forward of ``x`` (the model's mode is kept)."""
        ran: set[int] = set()
        params: list[nn.Parameter] = []
        active_params = 0

        def record(module: nn.Module, inputs: Any) -> None:
            nonlocal active_params
            if isinstance(module, DynamicMixin):
                # the active slice of a dynamic op's weights, counted once per op
                if id(module) not in ran:
                    ran.add(id(module))
                    ran.update(id(p) for p in module.owned_parameters())
                    active_params += module.count_active_params(inputs[0])
                return
            for p in module.parameters(recurse=False):
                if id(p) not in ran:
                    ran.add(id(p))
                    params.append(p)

        handle = nn.modules.module.register_module_forward_pre_hook(record)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                model(x)
        finally:
            handle.remove()
            model.train(was_training)
        return int(counter.get_total_flops()), sum(p.numel() for p in params) + active_params
