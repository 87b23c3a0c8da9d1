"""``map_in_threads``: results in item order whatever the scheduling, torch's thread count
restored (also after an error), and the kernels run single-threaded meanwhile."""
from __future__ import annotations

import pytest
import torch

from razor_ext.pruning.threaded import map_in_threads


@pytest.fixture
def two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


def test_results_keep_the_item_order_largest_first(two_threads):
    items = [torch.full((n,), float(n)) for n in (3, 50, 7, 20)]
    seen = []

    def fn(t):
        seen.append((t.numel(), torch.get_num_threads()))
        return t.sum()

    out = map_in_threads(fn, items, sizes=[t.numel() for t in items])
    assert [float(o) for o in out] == [9.0, 2500.0, 49.0, 400.0]
    assert all(n == 1 for _, n in seen)  # one-thread kernels inside
    assert torch.get_num_threads() == 2


def test_an_error_propagates_and_the_thread_count_is_restored(two_threads):
    def fn(x):
        if x == 2:
            raise ValueError('item 2')
        return x

    with pytest.raises(ValueError, match='item 2'):
        map_in_threads(fn, [1, 2, 3])
    assert torch.get_num_threads() == 2


def test_one_item_runs_in_the_caller_with_its_threads(two_threads):
    assert map_in_threads(lambda x: (x, torch.get_num_threads()), [5]) == [(5, 2)]
