"""Shared benchmark plumbing: every op is timed next to its eager PyTorch equivalent and its
memory floor in the same process, and the session ends with a table of ratios.

Two kinds of figures:
- ``compare(group, role, fn)`` times one role under pytest-benchmark (its own table gives the
  absolute timings); the ratio table divides the min and the median of the roles.
- ``paired(group, roles)`` times all roles round-robin in one loop, so every round compares runs
  taken moments apart; the ratio table gives the median and quartiles of the per-round ratios.
  On a machine whose memory bandwidth drifts (shared cloud hosts), this is the figure to trust.
  It also counts the page faults each role takes (see ``pin_malloc``).

Run:  pytest benchmarks/ --benchmark-only         (CI: --benchmark-disable, a smoke test)
"""
from __future__ import annotations

import collections
import ctypes
import os
import platform
import random
import statistics
import time
from collections.abc import Callable

import pytest
import torch

try:
    import resource  # Unix only: page-fault counts
except ImportError:
    resource = None

# group -> role ("ours", "eager", "floor", ...) -> (min seconds, median seconds)
_TIMINGS: dict[str, dict[str, tuple[float, float]]] = collections.defaultdict(dict)
# group -> role -> seconds of that role in each round-robin round
_ROUNDS: dict[str, dict[str, list[float]]] = {}
# group -> role -> minor page faults the process took during that role, in each round
_FAULTS: dict[str, dict[str, list[int]]] = {}

# glibc mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
_MALLOC_NOTE = "glibc malloc defaults"

ROUNDS = 25
PAIRED_ROUNDS = 41
WARMUP_ROUNDS = 3


def pin_malloc() -> str:
    """Keep freed memory in the heap for the whole benchmark session; returns what was done.

    With glibc's defaults, freeing a role's outputs can leave more than the trim threshold free at
    the top of the heap, which glibc hands back to the kernel; the next role that allocates then
    faults every page in again, at ~1.5 µs a 4 KiB page under KVM. Which role pays depends on the
    heap's layout, so a 51 MB gather took 4 ms in one round and 15 ms in the next, on unchanged
    code, while the preallocated floor never paid. Pinning the thresholds applies to every role
    alike; jemalloc and tcmalloc, which PyTorch's CPU performance guide recommends, likewise keep
    freed memory for reuse. ``RAZOR_EXT_BENCH_MALLOC=default`` keeps glibc's defaults."""
    if os.environ.get("RAZOR_EXT_BENCH_MALLOC") == "default":
        return "glibc malloc defaults (RAZOR_EXT_BENCH_MALLOC=default)"
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return "malloc not pinned (no glibc mallopt)"
    # 32 MiB is glibc's largest mmap threshold on 64-bit: smaller blocks come from the heap.
    if mallopt(M_MMAP_THRESHOLD, 32 << 20) != 1 or mallopt(M_TRIM_THRESHOLD, 1 << 30) != 1:
        return "malloc not pinned (mallopt refused)"
    return "glibc malloc pinned: mmap threshold 32 MiB, heap never trimmed"


def pytest_configure(config) -> None:
    global _MALLOC_NOTE
    if not config.getoption("benchmark_disable", default=False):
        _MALLOC_NOTE = pin_malloc()


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


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else 0


@pytest.fixture
def paired(benchmark) -> Callable[[str, dict[str, Callable[[], object]]], None]:
    """``paired(group, {role: fn})``: run every role once per round, in an order shuffled each
    round, and keep each role's time and page faults per round for the paired ratios.
    pytest-benchmark times the whole round. With --benchmark-disable each role runs once (a smoke
    test).

    Shuffled, not rotated: a role inherits the allocator's and the caches' state from the role
    before it, and a rotation gives each role the same predecessor in nearly every round."""

    def run(group: str, roles: dict[str, Callable[[], object]]) -> None:
        names = list(roles)
        seconds: dict[str, list[float]] = {name: [] for name in names}
        faults: dict[str, list[int]] = {name: [] for name in names}
        order = random.Random(group)  # seeded: the same orders in every run of this group

        def one_round() -> None:
            for name in order.sample(names, len(names)):
                faults_before = _minor_faults()
                start = time.perf_counter()
                result = roles[name]()
                seconds[name].append(time.perf_counter() - start)
                faults[name].append(_minor_faults() - faults_before)
                del result  # freed before the next role allocates, as a caller's loop would

        benchmark.group = f"{group} (round robin)"
        benchmark.name = " + ".join(names)
        benchmark.pedantic(one_round, rounds=PAIRED_ROUNDS, iterations=1,
                           warmup_rounds=WARMUP_ROUNDS)
        if not benchmark.disabled:
            _ROUNDS[group] = {name: times[WARMUP_ROUNDS:] for name, times in seconds.items()}
            _FAULTS[group] = {name: counts[WARMUP_ROUNDS:] for name, counts in faults.items()}

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
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; {_MALLOC_NOTE}")
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
        write("page faults per role and round: median (max)")
        for group, faults in sorted(_FAULTS.items()):
            counts = ", ".join(f"{role} {statistics.median(n):g} ({max(n)})"
                               for role, n in faults.items())
            write(f"{group:<40}{counts}")


class PairedRatio(collections.namedtuple("PairedRatio", "median q1 q3 of_minima")):
    """Per-round ratios a / b of a ``paired`` group: median and quartiles, and the ratio of the
    two roles' fastest rounds (the least disturbed by other processes on a shared host)."""

    def __str__(self) -> str:
        return (f"{self.median:.3f}x ({self.q1:.3f}-{self.q3:.3f}), "
                f"fastest rounds {self.of_minima:.3f}x")


def ratio_of_rounds(group: str, a: str, b: str) -> PairedRatio | None:
    """The :class:`PairedRatio` of roles ``a`` over ``b`` of a ``paired`` group, or None when it
    did not time (``--benchmark-disable``). For ratios the summary table lacks."""
    rounds = _ROUNDS.get(group)
    if not rounds or a not in rounds or b not in rounds:
        return None
    q1, median, q3 = statistics.quantiles([x / y for x, y in zip(rounds[a], rounds[b])], n=4)
    return PairedRatio(median, q1, q3, min(rounds[a]) / min(rounds[b]))


@pytest.fixture
def paired_ratio() -> Callable[[str, str, str], PairedRatio | None]:
    """``paired_ratio(group, a, b)`` after ``paired(group, ...)``: see :func:`ratio_of_rounds`.
    A fixture, because test modules cannot import this conftest by name reliably."""
    return ratio_of_rounds
