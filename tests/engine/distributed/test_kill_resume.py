"""A 2-process ``torchrun`` job killed with SIGKILL mid-epoch, resumed with ``--resume``, ends
bitwise where an uninterrupted 2-process run of the same config ends.

Bitwise, not to a tolerance: both runs use 2 gloo ranks with one thread each, so every kernel
and every all-reduce sees the same operands in the same order; the checkpoint holds the
weights, optimizer, loop position and RNG states exactly, and the sharded sampler rebuilds the
epoch's order from the seed and the epoch. Any drift would be a resume bug.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from razor_ext.fileio import load_checkpoint
from tests.engine.distributed.two_rank_jobs import straight_cfg

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason='torch.distributed with gloo is not available')

REPO = Path(__file__).resolve().parents[3]
KILL_AT = 7  # the second epoch's 2nd step (5 steps an epoch); the last checkpoint is iteration 6


def _torchrun(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    return subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', '2',
                           '-m', 'razor_ext', 'train', *args, '--launcher', 'pytorch'],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_killed_two_process_job_resumes_to_where_a_straight_run_ends(ranks, tmp_path):
    (r0, _), _ = ranks
    cfg = straight_cfg(tmp_path / 'unused')  # the config of the straight run in ``ranks``
    cfg['default_hooks']['checkpoint'] = dict(type='CheckpointHook', by_epoch=False, interval=3, max_keep_ckpts=-1)
    (tmp_path / 'job.json').write_text(json.dumps(cfg))
    (tmp_path / 'killed.py').write_text(
        'import tests.engine.distributed.kill_job  # registers KillJobAtIter in each rank\n'
        "_base_ = ['job.json']\n"
        f"custom_hooks = [dict(type='KillJobAtIter', at={KILL_AT})]\n")
    work = tmp_path / 'work'

    killed = _torchrun(tmp_path, 'killed.py', '--work-dir', str(work))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert (work / 'last_checkpoint').read_text().strip() == 'iter_6.pth'
    assert sorted(p.name for p in work.glob('*.pth')) == ['iter_3.pth', 'iter_6.pth']
    assert load_checkpoint(work / 'iter_6.pth')['meta']['loop'] == {'epoch': 1, 'iter': 6, 'inner_iter': 1}

    resumed = _torchrun(tmp_path, 'job.json', '--work-dir', str(work), '--resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = load_checkpoint(work / 'iter_10.pth')
    assert final['meta']['loop']['iter'] == 10  # saved after the last step, before the epoch closes
    assert final['state_dict'].keys() == r0['straight'].keys()
    for key, value in r0['straight'].items():
        assert torch.equal(final['state_dict'][key], value), key
