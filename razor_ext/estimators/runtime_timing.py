"""Time an ONNX file in the runtime it will be deployed with (onnxruntime or OpenVINO, CPU), and
name the CPU the figure belongs to.

The sessions are the deployment package's own (:class:`razor_ext.export.RuntimeSession`: the
same thread and latency settings as ``razor_ext.export.benchmark``); OpenVINO is optional
(``pip install razor_ext[openvino]``).
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from razor_ext.export.runtime_sessions import RUNTIMES, RuntimeSession

__all__ = ['RUNTIMES', 'cpu_signature', 'runtime_runner', 'time_onnx']

_FLAGS = ('avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_int8', 'amx_bf16', 'neon')


def cpu_signature(threads: int | None = None) -> dict[str, Any]:
    """``{'cpu': model name, 'flags': [int8-relevant ISA flags], 'threads': n}`` of this host.

    A latency table is only valid on the CPU (and thread count) it was measured on.

    Example:
        >>> sorted(cpu_signature(threads=2))
        ['cpu', 'flags', 'threads']
    """
    name, flags = platform.processor() or platform.machine(), set()
    try:
        text = Path('/proc/cpuinfo').read_text()
        for line in text.splitlines():
            key, _, value = line.partition(':')
            if key.strip() == 'model name' and name in ('', platform.machine(), platform.processor()):
                name = value.strip()
            if key.strip() in ('flags', 'Features'):
                flags |= set(value.split())
    except OSError:  # not Linux: the model name from platform is what we have
        pass
    return {'cpu': name, 'flags': sorted(f for f in _FLAGS if f in flags),
            'threads': int(threads or torch.get_num_threads())}


def runtime_runner(path: str | os.PathLike[str], runtime: str,
                   threads: int | None = None) -> Callable[[np.ndarray], Any]:
    """The runner of ``runtime`` (one of :data:`RUNTIMES`) for the ONNX file at ``path``."""
    session = RuntimeSession(path, runtime, int(threads or torch.get_num_threads()))
    return lambda x: session([x])


def time_onnx(path: str | os.PathLike[str], input_shape: Sequence[int], runtime: str = 'onnxruntime',
              *, warmup: int = 10, repeats: int = 50, threads: int | None = None) -> float:
    """Median milliseconds of one forward of the ONNX file on a random ``input_shape`` batch.

    Example:
        >>> import tempfile, torch
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = torch.onnx.export(torch.nn.Linear(4, 2), (torch.randn(1, 4),), f'{d}/m.onnx',
        ...                           dynamo=False)
        ...     time_onnx(f'{d}/m.onnx', (1, 4), repeats=3) > 0
        True
    """
    if warmup < 0 or repeats < 1:
        raise ValueError(f'warmup must be >= 0 and repeats >= 1, got {warmup}, {repeats}')
    run = runtime_runner(path, runtime, threads)
    x = np.random.default_rng(0).standard_normal(tuple(input_shape)).astype(np.float32)
    for _ in range(warmup):
        run(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(x)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)
