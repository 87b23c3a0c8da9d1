"""The MMEngine bridge (skipped where mmengine does not import)."""
from __future__ import annotations

import pytest
import torch

mmengine = pytest.importorskip('mmengine', reason='mmengine is not installed (optional bridge)')


def test_mmengine_registry_builds_and_trains_a_razor_ext_algorithm():
    from mmengine.optim import OptimWrapper
    from mmengine.registry import MODELS as MM_MODELS

    from razor_ext.integrations.mmengine import register_into_mmengine

    done = register_into_mmengine()
    assert 'SPOS' in done['registered'] or MM_MODELS.get('SPOS') is not None
    assert register_into_mmengine()['registered'] == []  # idempotent
    algo = MM_MODELS.build(dict(type='SPOS', architecture=dict(type='SearchableMnistNet', width=4, depth=1)))
    assert type(algo).__module__.startswith('razor_ext.nas')
    wrapper = OptimWrapper(torch.optim.SGD(algo.parameters(), lr=0.1))
    before = [p.detach().clone() for p in algo.parameters()]
    log = algo.train_step((torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,))), wrapper)
    assert 'loss' in log
    assert any(not torch.equal(b, p) for b, p in zip(before, algo.parameters()))
    mutator = MM_MODELS.build(dict(type='NasMutator'))
    assert type(mutator).__name__ == 'NasMutator'
