"""Quantization tests run tiny convolutions, where a second OpenMP thread on a loaded 2-core machine
costs ~100x (measured: 0.8 ms vs 95 ms per small depthwise conv): one thread, restored afterwards."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
