"""Gradient averaging at ``optimizer.step()`` (razor_ext's one scheme) vs
``DistributedDataParallel(find_unused_parameters=True)`` on SPOS supernet steps, 2 gloo ranks x
1 thread, roles alternating in the same process group (``dp_vs_ddp_worker.py``). The two end
with the same weights (the worker reports the largest difference); what differs is the cost of
reducing: one flat all-reduce after ``backward`` vs DDP's bucketed all-reduces during it plus
its search for unused parameters. With ``--benchmark-disable`` (CI) it is skipped unless
RAZOR_EXT_FULL_TESTS=1.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / 'benchmarks/dp_vs_ddp_worker.py'


def measure() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / 'result.json'
        env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT)}
        subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', '2',
                        str(WORKER), str(out)], env=env, check=True, capture_output=True, timeout=900)
        return json.loads(out.read_text())


def test_average_at_step_vs_ddp_find_unused_parameters(benchmark):
    if benchmark.disabled and os.environ.get('RAZOR_EXT_FULL_TESTS') != '1':
        pytest.skip('a minute of 2-process training: run with --benchmark-only or RAZOR_EXT_FULL_TESTS=1')
    result = measure()
    ours, ddp = (result['seconds'][k] for k in ('razor_ext (average at step)', 'DDP find_unused_parameters'))
    ratios = sorted(d / o for o, d in zip(ours, ddp))
    print(f"\nSPOS, {result['steps']} steps of {result['batch']} per rank: razor_ext median "
          f"{statistics.median(ours):.2f} s, DDP {statistics.median(ddp):.2f} s; DDP / razor_ext per round "
          f"{[round(r, 2) for r in ratios]}; max weight difference {result['max_param_diff']:g}")
    assert result['max_param_diff'] < 1e-5
