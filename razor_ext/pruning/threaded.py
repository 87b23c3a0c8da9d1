"""Large memory-bound kernel calls spread over Python threads, each running one-thread kernels.

An OpenMP region costs a barrier; on a host whose cores other jobs hold, each barrier spins for
milliseconds, and a 0.85 B Llama's pruning makes hundreds of such calls (a first version took 6x a
``copy.deepcopy`` at 2 threads under load). torch's kernels release the GIL, so
``get_num_threads()`` Python threads running single-threaded kernels copy and reduce in parallel
with no barrier at all.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import torch

T = TypeVar('T')


def map_in_threads(fn: Callable[[T], Any], items: Sequence[T], sizes: Sequence[int] | None = None
                   ) -> list[Any]:
    """``[fn(item) for item in items]``, run by ``torch.get_num_threads()`` Python threads with
    torch's intra-op threads set to 1 meanwhile (restored after). ``sizes``: the work of each
    item; the largest start first, so the threads finish together. One thread, or one item: a
    plain loop with the caller's threads.

    Example:
        >>> map_in_threads(lambda t: t.sum(), [torch.ones(3), torch.ones(4)])
        [tensor(3.), tensor(4.)]
    """
    workers = min(torch.get_num_threads(), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    order = list(range(len(items)))
    if sizes is not None:
        order.sort(key=lambda i: -sizes[i])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # each new thread reads it at its first parallel region
    try:
        with ThreadPoolExecutor(workers) as pool:
            done = list(pool.map(lambda i: fn(items[i]), order))
    finally:
        torch.set_num_threads(threads)
    out: list[Any] = [None] * len(items)
    for i, r in zip(order, done):
        out[i] = r
    return out
