"""Joint compression search (issue 29): one candidate's sampling, ``set_choices`` and latency
lookup on the demo's joint space (SearchableSlimNet, 3 blocks, ops x widths x per-block bit
widths: 16 search groups), against a plain ``NasMutator`` over the same supernet without bit
widths. The issue's target: well under 1 ms a candidate.

Run:  pytest benchmarks/test_bench_joint_search.py --benchmark-only
"""
from __future__ import annotations

import random

import torch

from razor_ext.architectures import SearchableSlimNet
from razor_ext.estimators import LatencyTable
from razor_ext.joint import JointSearchSpace
from razor_ext.supernet import NasMutator


def _space() -> JointSearchSpace:
    return JointSearchSpace(SearchableSlimNet(), torch.zeros(1, 1, 28, 28))


def _fake_table(space: JointSearchSpace) -> LatencyTable:
    table = LatencyTable('onnxruntime', space.units, {'cpu': 'bench'})
    table.fill(space.supernet, lambda unit: 1.0, overhead_ms=0.0)  # lookups only: values unused
    return table


def test_joint_candidate(compare):
    space = _space()
    table = _fake_table(space)
    random.seed(0)

    def joint() -> None:
        space.set_choices(space.sample_choices())
        table.predict(space.supernet)

    compare('joint candidate', 'sample+set+table lookup (16 groups)', joint)


def test_nas_only_candidate(compare):
    plain = NasMutator()
    plain.prepare_from_supernet(SearchableSlimNet())
    random.seed(0)
    compare('joint candidate', 'NasMutator sample+set, no bits (6 groups)',
            lambda: plain.set_choices(plain.sample_choices()))
