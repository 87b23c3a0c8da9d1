"""``auto_scale_lr``: the linear scaling rule of MMEngine, in one process (the 2-rank case is in
tests/engine/distributed/test_two_ranks.py)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from razor_ext.engine import Runner
from razor_ext.engine.optimizers import scale_lr


def _opts():
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    return dict(a=torch.optim.SGD(net[0].parameters(), lr=0.1),
                b=torch.optim.Adam([{'params': net[1].weight, 'lr': 0.01}, {'params': net[1].bias}], lr=0.02))


def test_every_group_of_every_optimizer_is_scaled():
    opts = _opts()
    assert scale_lr(opts, dict(enable=True, base_batch_size=256), world_size=8, batch_size=16) == 0.5
    assert [g['lr'] for o in opts.values() for g in o.param_groups] == [0.05, 0.005, 0.01]


@pytest.mark.parametrize('cfg', [None, {}, dict(base_batch_size=256), dict(enable=False, base_batch_size=256)])
def test_off_unless_enabled_as_in_mmengine(cfg):
    opts = _opts()
    assert scale_lr(opts, cfg, world_size=8, batch_size=16) == 1.0
    assert opts['a'].param_groups[0]['lr'] == 0.1


@pytest.mark.parametrize('base', [None, 0, -4, 2.5, True])
def test_bad_base_batch_size_is_named(base):
    with pytest.raises(ValueError, match='base_batch_size'):
        scale_lr(_opts(), dict(enable=True, base_batch_size=base), world_size=1, batch_size=16)


def test_runner_scales_before_the_scheduler_starts(make_cfg, capsys):
    cfg = make_cfg(auto_scale_lr=dict(enable=True, base_batch_size=100),
                   param_scheduler=dict(type='StepLR', step_size=1, gamma=0.5), val_cfg=None)
    runner = Runner.from_cfg(cfg)
    assert runner.lr_scale == 0.5  # one process of 50 images against 100
    assert runner.current_lr() == pytest.approx(1.5e-3)
    assert runner.schedulers[0][0].base_lrs == [pytest.approx(1.5e-3)]
    assert 'auto_scale_lr: learning rates x0.5' in capsys.readouterr().out
    assert Runner.from_cfg(make_cfg(auto_scale_lr=dict(base_batch_size=100))).lr_scale == 1.0
