"""``benchmark``: latency of an exported model in onnxruntime or OpenVINO (warm-up, median of N).

The measuring primitive of every latency figure razor_ext reports (CLI, demo report, search
constraints through :class:`~razor_ext.estimators.LatencyMeter` ``measure=``, lookup tables).
"""
from __future__ import annotations

import dataclasses
import os
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from razor_ext.export.onnx_export import to_onnx
from razor_ext.export.runtime_inputs import as_input_tuple, graph_inputs
from razor_ext.export.runtime_sessions import RUNTIMES, RuntimeSession

__all__ = ['BenchmarkResult', 'benchmark', 'latency_measure']


@dataclasses.dataclass(frozen=True)
class BenchmarkResult:
    """Latency of one model in one runtime, in milliseconds per call (one batch).

    Attributes:
        median_ms, mean_ms, min_ms: over ``repeats`` timed calls, after ``warmup`` untimed ones.
        runtime: ``'onnxruntime'`` or ``'openvino'``.
        threads: intra-op threads the runtime was given.
        batch_size: dim 0 of the first input.
        warmup, repeats: untimed and timed calls.
        precision: what float layers ran in (OpenVINO may use ``'bf16'`` where the CPU has it).
    """

    median_ms: float
    mean_ms: float
    min_ms: float
    runtime: str
    threads: int
    batch_size: int
    warmup: int
    repeats: int
    precision: str = 'f32'

    def to_dict(self) -> dict[str, Any]:
        """Plain types (for JSON reports)."""
        return dataclasses.asdict(self)


def _time_calls(run: Any, warmup: int, repeats: int) -> list[float]:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def benchmark(model: nn.Module | str | os.PathLike[str],
              example_inputs: Tensor | Sequence[Tensor] | None = None, *,
              runtime: str = 'onnxruntime', threads: int | None = None, warmup: int = 10,
              repeats: int = 50, batch_size: int = 1,
              config: Mapping[str, Any] | None = None) -> BenchmarkResult:
    """Median / mean / min latency of an exported model in ``runtime``.

    Args:
        model: an ONNX file (e.g. the int8 QDQ file of
            :func:`razor_ext.quantization.export_onnx`), or a float ``nn.Module``, exported first
            with :func:`~razor_ext.export.to_onnx` to a temporary file. A fake-quantized model
            must be exported by ``quantization.export_onnx`` first and passed as its file.
        example_inputs: ``(B, ...)`` tensor or tuple of tensors fed to every call; None (files
            only): random inputs shaped from the graph, dynamic dims set to ``batch_size``.
        runtime: ``'onnxruntime'`` or ``'openvino'`` (optional dependency).
        threads: intra-op threads; None: ``torch.get_num_threads()``.
        warmup, repeats: untimed and timed calls (``repeats >= 1``).
        batch_size: dynamic dims of generated inputs (only when ``example_inputs`` is None).
        config: runtime settings passed to :class:`~razor_ext.export.RuntimeSession`.

    Returns:
        a :class:`BenchmarkResult`.

    Example:
        >>> r = benchmark(torch.nn.Linear(8, 4), torch.randn(1, 8), warmup=1, repeats=3, threads=1)
        >>> r.runtime, r.threads, r.repeats, r.median_ms > 0
        ('onnxruntime', 1, 3, True)
    """
    if runtime not in RUNTIMES:
        raise ValueError(f'runtime must be one of {RUNTIMES}, got {runtime!r}')
    if not isinstance(warmup, int) or not isinstance(repeats, int) or warmup < 0 or repeats < 1:
        raise ValueError(f'warmup must be an int >= 0 and repeats an int >= 1, got {warmup!r}, {repeats!r}')
    threads = torch.get_num_threads() if threads is None else threads
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(model, nn.Module):
            if example_inputs is None:
                raise ValueError('benchmark: a module needs example_inputs')
            path = to_onnx(model, example_inputs, Path(tmp) / 'model.onnx', verify=False)
        elif isinstance(model, (str, os.PathLike)):
            path = Path(model)
        else:
            raise TypeError(f'model must be an nn.Module or an ONNX path, got {type(model).__name__}')
        session = RuntimeSession(path, runtime, threads, config)
        if example_inputs is None:
            arrays = graph_inputs(path, batch_size)
        else:
            arrays = [np.ascontiguousarray(t.detach().cpu().numpy()) for t in as_input_tuple(example_inputs)]
        times = _time_calls(lambda: session(arrays), warmup, repeats)
    batch = int(arrays[0].shape[0]) if arrays and arrays[0].ndim else 1
    return BenchmarkResult(statistics.median(times), statistics.fmean(times), min(times), runtime,
                           threads, batch, warmup, repeats, session.precision)


def latency_measure(runtime: str = 'onnxruntime', threads: int | None = None, warmup: int = 5,
                    repeats: int = 20, config: Mapping[str, Any] | None = None) -> Any:
    """A ``(model, input_shape) -> BenchmarkResult`` callable for latency constraints.

    What :class:`~razor_ext.estimators.LatencyMeter` and
    :class:`~razor_ext.estimators.ResourceEstimator` take as ``measure`` / ``latency_measure``,
    so that a search can limit the latency *measured in the deployment runtime* (the estimators
    may not import ``export``; the caller hands them this). Inputs are standard normal.

    Example:
        >>> measure = latency_measure('onnxruntime', threads=1, warmup=0, repeats=2)
        >>> measure(torch.nn.Linear(8, 4), (1, 8)).runtime
        'onnxruntime'
    """
    if runtime not in RUNTIMES:
        raise ValueError(f'runtime must be one of {RUNTIMES}, got {runtime!r}')

    def measure(model: nn.Module, input_shape: Sequence[int]) -> BenchmarkResult:
        x = torch.randn(*input_shape)
        return benchmark(model, x, runtime=runtime, threads=threads, warmup=warmup, repeats=repeats,
                         config=config)

    return measure
