"""DumpSubnetHook and EstimateResourcesHook in a SPOS run."""
from __future__ import annotations

import copy
import json

import pytest
import torch
import yaml

from razor_ext.engine import Runner
from razor_ext.architectures import SearchableMnistNet
from razor_ext.estimators import ResourceEstimator
from razor_ext.supernet.fix_subnet import load_fix_subnet


def _spos(make_cfg, max_epochs=2, **hooks):
    return make_cfg(model=dict(type='SPOS', architecture=dict(type='SearchableMnistNet', width=4, depth=1),
                               mutator=dict(type='NasMutator')),
                    max_epochs=max_epochs, **hooks)


def test_subnets_are_dumped_each_epoch_and_load(make_cfg):
    torch.manual_seed(0)
    cfg = _spos(make_cfg, custom_hooks=[dict(type='DumpSubnetHook', interval=1, max_keep_subnets=1)])
    runner = Runner.from_cfg(cfg)
    runner.train()
    files = sorted(runner.work_dir.glob('subnet_*.yaml'))
    assert [f.name for f in files] == ['subnet_epoch_2.yaml']  # the older one was rotated away
    subnet = yaml.safe_load(files[0].read_text())
    assert isinstance(subnet, dict) and all(set(v) >= {'chosen'} for v in subnet.values())
    want = runner.model.mutator.current_choices
    assert {k: v['chosen'] for k, v in subnet.items()} == want
    load_fix_subnet(SearchableMnistNet(width=4, depth=1), files[0])
    # The file names the subnet the supernet runs now: fixing a copy of the trained supernet by it
    # gives the same outputs (a wrong choice would change them).
    supernet = runner.model.architecture.eval()
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        live = supernet(x)
        fixed = load_fix_subnet(copy.deepcopy(supernet), files[0]).eval()(x)
    live, fixed = (t[-1] if isinstance(t, (tuple, list)) else t for t in (live, fixed))
    torch.testing.assert_close(fixed, live)
    assert not list(runner.work_dir.glob('*.tmp*'))  # written atomically, nothing left over


def test_resources_are_logged_with_the_val_metrics(make_cfg):
    torch.manual_seed(0)
    cfg = _spos(make_cfg, max_epochs=1, custom_hooks=[dict(type='EstimateResourcesHook', estimator_cfg=dict(
        type='ResourceEstimator', input_shape=(1, 1, 28, 28), units=None))])
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val()
    want = ResourceEstimator(input_shape=(1, 1, 28, 28), units=None).estimate(runner.model.architecture)
    assert metrics['resources/flops'] == want['flops'] > 0
    assert metrics['resources/params'] == want['params'] > 0
    records = [json.loads(line) for line in (runner.work_dir / 'log.jsonl').read_text().splitlines()]
    assert any('resources/flops' in r for r in records if r.get('mode') == 'val')


def test_hooks_refuse_what_they_cannot_do(make_cfg):
    with pytest.raises(ValueError, match='has no mutables'):
        Runner.from_cfg(make_cfg(custom_hooks=[dict(type='DumpSubnetHook')])).train()
    with pytest.raises(TypeError, match='not a ResourceEstimator'):
        Runner.from_cfg(make_cfg(custom_hooks=[dict(type='EstimateResourcesHook',
                                                    estimator_cfg=dict(type='ChannelAnalyzer'))]))
