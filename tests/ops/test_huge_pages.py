"""advise_huge_pages: advice on a fresh CPU tensor's 2 MiB-aligned interior; values untouched."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from razor_ext.ops import channel_gather
from razor_ext.ops.huge_pages import advise_huge_pages

_THP = Path('/sys/kernel/mm/transparent_hugepage/enabled')


def _thp_enabled() -> bool:
    return sys.platform.startswith('linux') and _THP.exists() and '[never]' not in _THP.read_text()


def _vma_flags(address: int) -> str:
    """The VmFlags line of the /proc/self/smaps mapping that holds ``address``."""
    inside = False
    for line in Path('/proc/self/smaps').read_text().splitlines():
        head = line.split()[0]
        if '-' in head and not head.endswith(':'):
            lo, hi = (int(x, 16) for x in head.split('-'))
            inside = lo <= address < hi
        elif inside and line.startswith('VmFlags:'):
            return line
    return ''


def test_rejects_non_tensor() -> None:
    with pytest.raises(TypeError, match='must be a Tensor'):
        advise_huge_pages([1.0, 2.0])  # type: ignore[arg-type]


def test_small_and_empty_tensors_get_no_advice() -> None:
    assert advise_huge_pages(torch.empty(16)) is False
    assert advise_huge_pages(torch.empty(0)) is False
    assert advise_huge_pages(torch.empty(1024, 1023, dtype=torch.uint8)) is False  # < 4 MiB


@pytest.mark.skipif(not _thp_enabled(), reason='needs Linux with transparent huge pages')
def test_large_fresh_tensor_is_advised_and_marked_hugepage() -> None:
    t = torch.empty(2048, 2048)  # 16 MiB
    assert advise_huge_pages(t) is True
    # the kernel splits the mapping at the advised range: its middle carries the `hg` flag
    assert ' hg' in _vma_flags(t.data_ptr() + t.nbytes // 2)
    t.fill_(3.0)
    assert torch.equal(t, torch.full_like(t, 3.0))


def test_advice_leaves_values_unchanged() -> None:
    t = torch.randn(1500, 1100)
    before = t.clone()
    advise_huge_pages(t)
    assert torch.equal(t, before)


def test_large_channel_gather_matches_index_select() -> None:
    # outputs over 4 MiB take the advised path inside the kernel
    w = torch.randn(3000, 1200)
    idx = torch.randperm(3000)[:2500].sort().values
    (out,) = channel_gather([w], idx, [0])
    assert torch.equal(out, w.index_select(0, idx))
    (cols,) = channel_gather([w], idx[idx < 1200], [1])
    assert torch.equal(cols, w.index_select(1, idx[idx < 1200]))
