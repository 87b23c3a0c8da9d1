"""Latency measured, not assumed: time a model (torch eager or onnxruntime) with warm-up and repeats.

``ResourceEstimator`` (and any search constraint named ``latency``) uses :class:`LatencyMeter`;
the figure is in milliseconds per forward of one batch of ``input_shape`` and records which
backend measured it. The meter times eager torch or onnxruntime itself; for the deployment
runtimes (OpenVINO, onnxruntime with stated threads) it takes a ``measure`` callable, usually
:func:`razor_ext.export.latency_measure` (the estimators sit beside ``export`` in the layers and
may not import it: the engine, demo or user passes the callable in).
"""
from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ['LatencyResult', 'LatencyMeter', 'measure_latency']

_BACKENDS = ('torch', 'onnxruntime')

# (model, input_shape) -> a result with ``median_ms`` and ``runtime`` (or ``backend``)
MeasureFn = Callable[[nn.Module, tuple[int, ...]], Any]


@dataclasses.dataclass(frozen=True)
class LatencyResult:
    """Timings of one model in milliseconds per forward.

    Attributes:
        median_ms, mean_ms, min_ms: over ``repeats`` timed runs (after ``warmup`` untimed ones).
        backend: ``'torch'`` (eager) or ``'onnxruntime'``; device: ``'cpu'`` or ``'cuda:0'`` ...
        threads: intra-op threads used.
    """
    median_ms: float
    mean_ms: float
    min_ms: float
    backend: str
    device: str
    repeats: int
    warmup: int
    threads: int


def _device_of(model: nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    return torch.device('cpu')


def _timed(run: Any, warmup: int, repeats: int, sync: Any) -> list[float]:
    for _ in range(warmup):
        run()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def measure_latency(model: nn.Module, input_shape: Sequence[int], *, backend: str = 'torch',
                    warmup: int = 5, repeats: int = 20) -> LatencyResult:
    """Median / mean / min forward time of ``model`` on a random ``input_shape`` batch.

    With ``backend='onnxruntime'`` the model is exported to a temporary ONNX file (TorchScript
    exporter) and timed in an onnxruntime CPU session. The model's train/eval mode is restored.

    Example:
        >>> r = measure_latency(nn.Linear(8, 4), (1, 8), warmup=1, repeats=3)
        >>> r.backend, r.repeats, r.median_ms > 0
        ('torch', 3, True)
    """
    if backend not in _BACKENDS:
        raise ValueError(f'backend must be one of {_BACKENDS}, got {backend!r}')
    if warmup < 0 or repeats < 1:
        raise ValueError(f'warmup must be >= 0 and repeats >= 1, got {warmup}, {repeats}')
    device = _device_of(model)
    x = torch.randn(*input_shape, device=device)
    was_training = model.training
    model.eval()
    try:
        if backend == 'torch':
            sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
            with torch.inference_mode():
                times = _timed(lambda: model(x), warmup, repeats, sync)
            dev = str(device)
        else:
            import onnxruntime as ort
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / 'model.onnx'
                with torch.no_grad():
                    torch.onnx.export(model, (x,), str(path), input_names=['input'],
                                      dynamo=False, opset_version=17)
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = torch.get_num_threads()
                session = ort.InferenceSession(str(path), opts,
                                               providers=['CPUExecutionProvider'])
                feed = {'input': x.detach().cpu().numpy()}
                times = _timed(lambda: session.run(None, feed), warmup, repeats, lambda: None)
            dev = 'cpu'
    finally:
        model.train(was_training)
    return LatencyResult(statistics.median(times), statistics.fmean(times), min(times),
                         backend, dev, repeats, warmup, torch.get_num_threads())


class LatencyMeter:
    """Measure latency once per subnet and cache it by a subnet key.

    Args:
        input_shape: ``(N, C, H, W)`` batch shape timed.
        backend: ``'torch'`` or ``'onnxruntime'``.
        warmup, repeats: untimed and timed runs.
        measure: time with this callable instead, ``measure(model, input_shape)`` returning an
            object with ``median_ms`` and ``runtime`` (e.g.
            ``razor_ext.export.latency_measure('openvino', threads=2)``, which returns
            :class:`~razor_ext.export.BenchmarkResult`); ``backend`` then reports its runtime.

    Example:
        >>> meter = LatencyMeter((1, 8), repeats=2, warmup=0)
        >>> a = meter.measure(nn.Linear(8, 4), key='subnet-a')
        >>> meter.measure(nn.Linear(8, 4), key='subnet-a') is a, len(meter)
        (True, 1)
    """

    def __init__(self, input_shape: Sequence[int], backend: str = 'torch', warmup: int = 5,
                 repeats: int = 20, measure: MeasureFn | None = None) -> None:
        if backend not in _BACKENDS:
            raise ValueError(f'backend must be one of {_BACKENDS}, got {backend!r}')
        if measure is not None and not callable(measure):
            raise TypeError(f'measure must be callable, got {type(measure).__name__}')
        self.input_shape, self.backend = tuple(input_shape), backend
        self.warmup, self.repeats = warmup, repeats
        self.measure_fn = measure
        self._cache: dict[Hashable, LatencyResult] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._cache

    def measure(self, model: nn.Module, key: Hashable | None = None) -> LatencyResult:
        """The cached result for ``key``, else a fresh measurement (cached when key is given).

        A key usually is the subnet's choices, e.g. ``repr(sorted(mutator.current_choices.items()))``.
        """
        if key is not None and key in self._cache:
            return self._cache[key]
        if self.measure_fn is not None:
            result = self._measured_by_callable(model)
        else:
            result = measure_latency(model, self.input_shape, backend=self.backend,
                                     warmup=self.warmup, repeats=self.repeats)
        if key is not None:
            self._cache[key] = result
        return result

    def _measured_by_callable(self, model: nn.Module) -> LatencyResult:
        was_training = model.training
        model.eval()
        try:
            r = self.measure_fn(model, self.input_shape)
        finally:
            model.train(was_training)
        if not hasattr(r, 'median_ms'):
            raise TypeError(f'measure must return an object with median_ms, got {type(r).__name__}')
        runtime = getattr(r, 'runtime', getattr(r, 'backend', 'custom'))
        return LatencyResult(float(r.median_ms), float(getattr(r, 'mean_ms', r.median_ms)),
                             float(getattr(r, 'min_ms', r.median_ms)), str(runtime), 'cpu',
                             int(getattr(r, 'repeats', 0)), int(getattr(r, 'warmup', 0)),
                             int(getattr(r, 'threads', torch.get_num_threads())))

    @property
    def deployed(self) -> bool:
        """Whether the model is timed as a deployed (exported, static) file, not eagerly."""
        return self.backend == 'onnxruntime' or self.measure_fn is not None

    def estimate(self, model: nn.Module) -> dict[str, Any]:
        """``{'latency': median ms, 'latency_backend': backend}`` keyed by the model's current
        choices (``model.mutator.current_choices``) when it has a mutator.
        """
        mutator = getattr(model, 'mutator', None)
        choices = getattr(mutator, 'current_choices', None)
        key = repr(sorted((repr(k), repr(v)) for k, v in choices.items())) \
            if isinstance(choices, dict) else None
        r = self.measure(model, key)
        return {'latency': r.median_ms, 'latency_backend': r.backend}

