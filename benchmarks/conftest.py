"""Shared benchmark plumbing: every op is timed next to its eager PyTorch equivalent and its
memory floor in the same process, and the session ends with a table of ratios.

Two kinds of figures:
- ``compare(group, role, fn)`` times one role under pytest-benchmark (its own table gives the
  absolute timings); the ratio table divides the min and the median of the roles.
- ``paired(group, roles)`` times all roles round-robin in one loop, so every round compares runs
  taken moments apart; the ratio table gives the median and quartiles of the per-round ratios.
  On a machine whose memory bandwidth drifts (shared cloud hosts), this is the figure to trust.

Run:  pytest benchmarks/ --benchmark-only         (CI: --benchmark-disable, a smoke test)
"""
from __future__ import annotations

import collections
import platform
import statistics
import time
from collections.abc import Callable

import pytest
import torch

# group -> role ("ours", "eager", "floor", ...) -> (min seconds, median seconds)
_TIMINGS: dict[str, dict[str, tuple[float, float]]] = collections.defaultdict(dict)
# group -> role -> seconds of that role in each round-robin round
_ROUNDS: dict[str, dict[str, list[float]]] = {}

ROUNDS = 25
PAIRED_ROUNDS = 41
WARMUP_ROUNDS = 3


@pytest.fixture
def compare(benchmark) -> Callable[[str, str, Callable[[], object]], None]:
    """``compare(group, role, fn)``: time ``fn`` under pytest-benchmark and keep its figures for
    the ratio table. With --benchmark-disable it runs ``fn`` once (a smoke test)."""

    def run(group: str, role: str, fn: Callable[[], object]) -> None:
        benchmark.group = group
        benchmark.name = role
        benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP_ROUNDS)
        stats = getattr(benchmark, "stats", None)
        if stats is not None and getattr(stats, "stats", None) is not None:
            _TIMINGS[group][role] = (stats.stats.min, stats.stats.median)

    return run


@pytest.fixture
def paired(benchmark) -> Callable[[str, dict[str, Callable[[], object]]], None]:
    """``paired(group, {role: fn})``: run every role once per round, in an order rotated each
    round, and keep each role's time per round for the paired ratios. pytest-benchmark times the
    whole round. With --benchmark-disable each role runs once (a smoke test)."""

    def run(group: str, roles: dict[str, Callable[[], object]]) -> None:
        names = list(roles)
        seconds: dict[str, list[float]] = {name: [] for name in names}
        rounds_done = 0

        def one_round() -> None:
            nonlocal rounds_done
            shift = rounds_done % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                result = roles[name]()
                seconds[name].append(time.perf_counter() - start)
                del result  # freed before the next role allocates, as a caller's loop would
            rounds_done += 1

        benchmark.group = f"{group} (round robin)"
        benchmark.name = " + ".join(names)
        benchmark.pedantic(one_round, rounds=PAIRED_ROUNDS, iterations=1,
                           warmup_rounds=WARMUP_ROUNDS)
        if not benchmark.disabled:
            _ROUNDS[group] = {name: times[WARMUP_ROUNDS:] for name, times in seconds.items()}

    return run


def _ratio(timings: dict[str, tuple[float, float]], a: str, b: str) -> str:
    if a not in timings or b not in timings:
        return "-"
    return " / ".join(f"{timings[a][k] / timings[b][k]:.2f}x" for k in (0, 1))


def _paired_ratio(rounds: dict[str, list[float]], a: str, b: str) -> str:
    if a not in rounds or b not in rounds:
        return "-"
    q1, median, q3 = statistics.quantiles([x / y for x, y in zip(rounds[a], rounds[b])], n=4)
    return f"{median:.2f}x ({q1:.2f}-{q3:.2f})"


def pytest_terminal_summary(terminalreporter) -> None:
    if not _TIMINGS and not _ROUNDS:
        return
    write = terminalreporter.write_line
    write("")
    write(f"razor_ext ratios on {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    columns = (("ours", "floor"), ("ours", "alloc floor"), ("eager", "ours"))
    header = "".join(f"{f'{a} vs {b}':>26}" for a, b in columns)
    if _TIMINGS:
        write(f"min / median, each role timed on its own ({ROUNDS} rounds)")
        write(f"{'group':<40}{header}")
        for group, timings in sorted(_TIMINGS.items()):
            write(f"{group:<40}" + "".join(f"{_ratio(timings, a, b):>26}" for a, b in columns))
    if _ROUNDS:
        write(f"median (quartiles) of per-round ratios, roles round robin ({PAIRED_ROUNDS} rounds)")
        write(f"{'group':<40}{header}")
        for group, rounds in sorted(_ROUNDS.items()):
            ratios = (_paired_ratio(rounds, a, b) for a, b in columns)
            write(f"{group:<40}" + "".join(f"{ratio:>26}" for ratio in ratios))
