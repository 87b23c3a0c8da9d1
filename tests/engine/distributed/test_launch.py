"""Single-process behaviour of the distributed pieces: launcher errors, sharded sampler,
CpuSyncBatchNorm == BatchNorm outside a job, no-op gradient averaging, the CLI flag."""
from __future__ import annotations

import pytest
import torch

from pathlib import Path

from razor_ext.cli import main
from razor_ext.data.loaders import EpochSeededSampler
from razor_ext.engine.distributed import (CpuSyncBatchNorm, DataParallelContext, convert_sync_batchnorm,
                                          get_dist_info, init_distributed)


def test_unknown_launcher_and_missing_torchrun_env_are_clear(monkeypatch):
    with pytest.raises(ValueError, match='launcher must be one of'):
        init_distributed('slurm')
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match='torchrun'):
        init_distributed('pytorch')
    assert get_dist_info().world_size == 1


def test_cli_launcher_without_torchrun_says_so(tmp_path, monkeypatch, capsys):
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    config = Path(__file__).resolve().parents[3] / 'configs/nas/spos/spos_searchable_mnist_supernet.py'
    code = main(['train', str(config), '--launcher', 'pytorch',
                 '--work-dir', str(tmp_path)])
    assert code == 1 and 'torchrun' in capsys.readouterr().err


@pytest.mark.parametrize('length,replicas', [(10, 2), (11, 2), (7, 3), (1, 2)])
def test_sharded_sampler_covers_the_epoch_in_equal_disjoint_shards(length, replicas):
    shards = [list(EpochSeededSampler(range(length), seed=4, num_replicas=replicas, rank=r))
              for r in range(replicas)]
    assert len({len(s) for s in shards}) == 1 and len(shards[0]) == -(-length // replicas)
    flat = [i for s in shards for i in s]
    assert set(flat) == set(range(length))
    if length % replicas == 0:
        assert sorted(flat) == list(range(length))  # no padding: disjoint
    s0 = EpochSeededSampler(range(length), seed=4, num_replicas=replicas, rank=0)
    s0.set_epoch(1)
    assert length < 3 or list(s0) != shards[0]  # reshuffled every epoch
    with pytest.raises(ValueError, match='rank'):
        EpochSeededSampler(range(4), num_replicas=2, rank=2)


def test_cpu_sync_batchnorm_is_batchnorm_outside_a_job():
    bn = torch.nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2), bn.bias.uniform_(-1, 1)
    net = convert_sync_batchnorm(torch.nn.Sequential(bn), torch.device('cpu'))
    assert isinstance(net[0], CpuSyncBatchNorm)
    ref = torch.nn.BatchNorm2d(4)
    ref.load_state_dict(bn.state_dict())
    x = torch.randn(3, 4, 5, 5)
    torch.testing.assert_close(net[0](x), ref(x))
    torch.testing.assert_close(net[0].running_var, ref.running_var)
    with pytest.raises(ValueError, match='shape'):
        net[0](torch.randn(4))


def test_data_parallel_context_is_a_plain_step_in_one_process():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ctx = DataParallelContext(model).attach(opt)
    model(torch.ones(1, 3)).sum().backward()
    before = model.bias.detach().clone()
    opt.step()
    torch.testing.assert_close(model.bias.detach(), before - 0.1)
    ctx.detach()
    with pytest.raises(TypeError, match='torch.optim'):
        DataParallelContext(model).attach({'a': object()})
