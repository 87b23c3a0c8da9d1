"""The demo NAS stage's constraints: FLOPs, and latency measured in the deployment runtime.

The search keeps subnets under half the teacher's FLOPs and, where ``ctx.latency_runtime`` names
an installed runtime, no slower than the teacher *as measured in that runtime* (batch 1,
exported to ONNX per candidate, median of 20 runs): on this small CNN the runtime's per-call
cost dominates, so FLOPs alone say little about what the deployed subnet costs.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from razor_ext.demo.context import DemoContext
from razor_ext.demo.measure import count_flops
from razor_ext.export import latency_measure

__all__ = ['nas_constraints']

_MODULES = {'onnxruntime': 'onnxruntime', 'openvino': 'openvino'}


def nas_constraints(ctx: DemoContext, supernet: nn.Module, example: Tensor, flops_budget: float
                    ) -> tuple[dict[str, Any], Callable[[], dict[str, float]], str]:
    """``(constraints, estimate, note)`` for the NAS stage's evolution search.

    ``estimate()`` gives the resources of ``supernet``'s current subnet; ``note`` says in the
    report what the search was constrained by.

    Example:
        >>> import torch
        >>> from pathlib import Path
        >>> ctx = DemoContext(Path('.'), True, 0, *(3 * [(torch.zeros(1), torch.zeros(1))]),
        ...                   latency_runtime=None)
        >>> c, est, note = nas_constraints(ctx, nn.Linear(4, 2), torch.randn(1, 4), 100.0)
        >>> sorted(c), sorted(est()), note
        (['flops'], ['flops'], '')
    """
    runtime = ctx.latency_runtime
    if runtime is not None and runtime not in _MODULES:
        raise ValueError(f"latency_runtime must be 'onnxruntime', 'openvino' or None, got {runtime!r}")
    if runtime is None or importlib.util.find_spec(_MODULES[runtime]) is None:
        note = '' if runtime is None else f'; {runtime} not installed: FLOPs only'
        return ({'flops': (0, flops_budget)},
                lambda: {'flops': count_flops(supernet, example)}, note)
    measure = latency_measure(runtime, warmup=3, repeats=20)
    shape = tuple(example[:1].shape)
    teacher_ms = measure(ctx.models['teacher'], shape).median_ms

    def estimate() -> dict[str, float]:
        return {'flops': count_flops(supernet, example), 'latency': measure(supernet, shape).median_ms}

    note = (f', latency <= the teacher\'s {teacher_ms:.3f} ms measured in {runtime} '
            f'(batch 1, per candidate)')
    return {'flops': (0, flops_budget), 'latency': (0, teacher_ms)}, estimate, note
