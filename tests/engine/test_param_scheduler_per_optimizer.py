"""``param_scheduler`` keyed by optimizer name, MMEngine's form when ``optim_wrapper`` holds
several optimizers (MMRazor's data-free distillation configs)."""
from __future__ import annotations

import pytest
import torch

from razor_ext.engine.optimizers import build_schedulers


def test_each_optimizer_gets_its_own_schedules():
    a, g = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    opts = dict(architecture=torch.optim.SGD(a.parameters(), lr=1.0),
                generator=torch.optim.SGD(g.parameters(), lr=1.0))
    scheds = build_schedulers(opts, dict(
        architecture=dict(type='MultiStepLR', milestones=[1], by_epoch=False, gamma=0.1),
        generator=[dict(type='StepLR', step_size=1, gamma=0.5, by_epoch=False)]), 10)
    assert len(scheds) == 2
    for s, _ in scheds:
        s.step()
    assert opts['architecture'].param_groups[0]['lr'] == pytest.approx(0.1)
    assert opts['generator'].param_groups[0]['lr'] == pytest.approx(0.5)
    with pytest.raises(KeyError, match="names \\['generatr'\\].*optimizers are"):
        build_schedulers(opts, dict(generatr=dict(type='StepLR', step_size=1)), 10)
    # a fixed subnet inherits the supernet's 'mutator' schedule; build_optimizers dropped that
    # optimizer (with a warning), so its schedule goes too
    only = build_schedulers(opts, dict(architecture=dict(type='StepLR', step_size=1, by_epoch=False),
                                       mutator=dict(type='StepLR', step_size=1)), 10)
    assert [s.optimizer for s, _ in only] == [opts['architecture']]
