"""Round-robin timing: every role of a case runs once per round, so each round compares runs
taken moments apart (a shared host's drifting load hits all roles alike)."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def round_robin(roles: dict[str, Callable[[], object]], rounds: int = 10, warmup: int = 2,
                device: torch.device | str = 'cpu') -> dict[str, float]:
    """Median seconds of each role over ``rounds`` round-robin rounds (after ``warmup`` rounds).

    Example:
        >>> t = round_robin({'a': lambda: sum(range(100)), 'b': lambda: sum(range(10))}, rounds=3)
        >>> sorted(t), all(v > 0 for v in t.values())
        (['a', 'b'], True)
    """
    if rounds < 1 or warmup < 0:
        raise ValueError(f'rounds must be >= 1 and warmup >= 0, got {rounds}, {warmup}')
    device = torch.device(device)
    times: dict[str, list[float]] = {name: [] for name in roles}
    for i in range(warmup + rounds):
        for name, fn in roles.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def copy_bandwidth(nbytes: int, device: torch.device | str = 'cpu', rounds: int = 10) -> float:
    """Bytes per second of a plain copy into a preallocated tensor (reads + writes counted):
    the memory floor memory-bound kernels are reported against, measured in the same run.

    Example:
        >>> copy_bandwidth(1 << 20, rounds=2) > 0
        True
    """
    n = max(nbytes // 4, 1)
    src = torch.randn(n, device=device)
    dst = torch.empty_like(src)
    seconds = round_robin({'copy': lambda: dst.copy_(src)}, rounds=rounds, device=device)['copy']
    return 2 * n * 4 / seconds
