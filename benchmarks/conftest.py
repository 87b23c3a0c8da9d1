"""Shared benchmark plumbing: every op is timed next to its eager PyTorch equivalent and its
memory floor in the same process, and the session ends with a table of ratios.

Run:  pytest benchmarks/ --benchmark-only         (CI: --benchmark-disable, a smoke test)
"""
from __future__ import annotations

import collections
import platform
from collections.abc import Callable

import pytest
import torch

# group -> role ("ours", "eager", "floor", ...) -> (min seconds, median seconds)
_TIMINGS: dict[str, dict[str, tuple[float, float]]] = collections.defaultdict(dict)


@pytest.fixture
def compare(benchmark) -> Callable[[str, str, Callable[[], object]], None]:
    """``compare(group, role, fn)``: time ``fn`` under pytest-benchmark and keep its figures for
    the ratio table. With --benchmark-disable it runs ``fn`` once (a smoke test)."""

    def run(group: str, role: str, fn: Callable[[], object]) -> None:
        benchmark.group = group
        benchmark.name = role
        benchmark.pedantic(fn, rounds=25, iterations=1, warmup_rounds=3)
        stats = getattr(benchmark, "stats", None)
        if stats is not None and getattr(stats, "stats", None) is not None:
            _TIMINGS[group][role] = (stats.stats.min, stats.stats.median)

    return run


def _ratio(timings: dict[str, tuple[float, float]], a: str, b: str) -> str:
    if a not in timings or b not in timings:
        return "-"
    return " / ".join(f"{timings[a][k] / timings[b][k]:.2f}x" for k in (0, 1))


def pytest_terminal_summary(terminalreporter) -> None:
    if not _TIMINGS:
        return
    write = terminalreporter.write_line
    write("")
    write(f"razor_ext ratios (min / median) on {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    write(f"{'group':<40} {'ours vs floor':>18} {'ours vs alloc floor':>20} {'eager vs ours':>18}")
    for group, timings in sorted(_TIMINGS.items()):
        write(f"{group:<40} {_ratio(timings, 'ours', 'floor'):>18} "
              f"{_ratio(timings, 'ours', 'alloc floor'):>20} {_ratio(timings, 'eager', 'ours'):>18}")
