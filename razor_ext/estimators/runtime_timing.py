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

__all__ = ['RUNTIMES', 'STATS', 'cpu_signature', 'runtime_runner', 'time_onnx', 'time_onnx_files',
           'time_onnx_rounds']

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
    """The timing runner of ``runtime`` (one of :data:`RUNTIMES`) for the ONNX file at ``path``:
    ``run(x)`` runs one forward and leaves the outputs in the runtime
    (:meth:`~razor_ext.export.RuntimeSession.run_only`)."""
    session = RuntimeSession(path, runtime, int(threads or torch.get_num_threads()))
    return lambda x: session.run_only([x])


STATS = ('median', 'min')


def time_onnx(path: str | os.PathLike[str], input_shape: Sequence[int], runtime: str = 'onnxruntime',
              *, warmup: int = 10, repeats: int = 50, threads: int | None = None,
              stat: str = 'median', sessions: int = 1) -> float:
    """Milliseconds of one forward of the ONNX file on a random ``input_shape`` batch: the
    ``stat`` (``'median'``, or ``'min'``: the uncontended time, robust to other processes on a
    shared host) of ``repeats`` timed runs; with ``sessions > 1``, the same ``stat`` of that
    figure over as many fresh sessions, opened one after another.

    Why sessions: on a shared VM a session can run slow for its whole life (OpenVINO on a
    2-core AMD EPYC: one file's minimum of 150 runs read 0.445-0.647 ms in five fresh
    sessions back to back), which no statistic over its own runs removes.

    Example:
        >>> import tempfile, torch
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = torch.onnx.export(torch.nn.Linear(4, 2), (torch.randn(1, 4),), f'{d}/m.onnx',
        ...                           dynamo=False)
        ...     time_onnx(f'{d}/m.onnx', (1, 4), repeats=3) > 0
        True
    """
    return time_onnx_files([path], input_shape, runtime, warmup=warmup, repeats=repeats,
                           threads=threads, stat=stat, sessions=sessions)[0]


def time_onnx_files(paths: Sequence[str | os.PathLike[str]], input_shape: Sequence[int],
                    runtime: str = 'onnxruntime', *, warmup: int = 10, repeats: int = 50,
                    threads: int | None = None, stat: str = 'median',
                    sessions: int = 1) -> list[float]:
    """:func:`time_onnx` of every file, the sessions spread out: ``sessions`` passes over the
    files, one fresh session of each file per pass, one session open at a time.

    Why passes: a shared VM has slow phases that last longer than one file's sessions back to
    back; spread over the passes, a slow phase lifts one figure of several files instead of
    every figure of one.

    Returns:
        ``[ms per file]``: the ``stat`` over the sessions of the ``stat`` of the timed runs.

    Example:
        >>> import tempfile, torch
        >>> f = f'{tempfile.mkdtemp()}/m.onnx'
        >>> _ = torch.onnx.export(torch.nn.Linear(4, 2), (torch.randn(1, 4),), f, dynamo=False)
        >>> len(time_onnx_files([f, f], (1, 4), repeats=3, sessions=2))
        2
    """
    if warmup < 0 or repeats < 1:
        raise ValueError(f'warmup must be >= 0 and repeats >= 1, got {warmup}, {repeats}')
    if stat not in STATS:
        raise ValueError(f'stat must be one of {STATS}, got {stat!r}')
    if sessions < 1:
        raise ValueError(f'sessions must be >= 1, got {sessions}')
    x = np.random.default_rng(0).standard_normal(tuple(input_shape)).astype(np.float32)
    reduce = min if stat == 'min' else statistics.median
    figures: list[list[float]] = [[] for _ in paths]
    for _ in range(sessions):
        for path, out in zip(paths, figures):
            run = runtime_runner(path, runtime, threads)
            for _ in range(warmup):
                run(x)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                run(x)
                times.append((time.perf_counter() - start) * 1e3)
            out.append(reduce(times))
            del run  # one session at a time: they would share the cores and caches
    return [reduce(f) for f in figures]


def time_onnx_rounds(paths: Sequence[str | os.PathLike[str]], input_shape: Sequence[int],
                     runtime: str = 'onnxruntime', *, warmup: int = 10, repeats: int = 50,
                     threads: int | None = None) -> list[list[float]]:
    """Milliseconds of one forward of each ONNX file, timed round robin: ``repeats`` rounds, one
    call of every file per round, so that files compared with each other see the same load.

    Returns:
        ``times[i][r]``: file ``i`` in round ``r``. Differences taken per round (``times[1][r] -
        times[0][r]``) cancel the host's drift; their median is the robust figure.

    Example:
        >>> import tempfile, torch
        >>> with tempfile.TemporaryDirectory() as d:
        ...     for n in (2, 64):
        ...         _ = torch.onnx.export(torch.nn.Linear(4, n), (torch.randn(1, 4),), f'{d}/{n}.onnx',
        ...                               dynamo=False)
        ...     t = time_onnx_rounds([f'{d}/2.onnx', f'{d}/64.onnx'], (1, 4), repeats=3)
        >>> len(t), len(t[0])
        (2, 3)
    """
    if warmup < 0 or repeats < 1:
        raise ValueError(f'warmup must be >= 0 and repeats >= 1, got {warmup}, {repeats}')
    if not paths:
        raise ValueError('time_onnx_rounds needs at least one file')
    runs = [runtime_runner(p, runtime, threads) for p in paths]
    x = np.random.default_rng(0).standard_normal(tuple(input_shape)).astype(np.float32)
    for _ in range(warmup):
        for run in runs:
            run(x)
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, out in zip(runs, times):
            start = time.perf_counter()
            run(x)
            out.append((time.perf_counter() - start) * 1e3)
    return times
