"""One 2-process gloo job for all the tests of this folder: it runs every scenario of
``two_rank_jobs.run_all`` in turn (process start-up and imports paid once)."""
from __future__ import annotations

import socket

import pytest
import torch
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='session')
def ranks(tmp_path_factory):
    """``([rank 0's results, rank 1's results], out_dir)``."""
    from tests.engine.distributed.two_rank_jobs import run_all

    out = tmp_path_factory.mktemp('two_ranks')
    mp.spawn(run_all, args=(2, free_port(), str(out)), nprocs=2, join=True)
    return [torch.load(out / f'rank{r}.pt', weights_only=False) for r in (0, 1)], out
