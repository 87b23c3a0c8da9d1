"""Elastic supernets built from dynamic ops: sampled subnets exported static give the supernet's
outputs; subnet files round-trip through YAML onto a fresh supernet; static subnets run in
onnxruntime. (1) an OFA/BigNAS-style MobileNet (elastic width, expand ratio, kernel, depth),
(2) an Autoformer-style ViT (elastic embed dim, heads, MLP ratio, depth)."""
from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from razor_ext.export import to_onnx
from razor_ext.supernet.dynamic_ops import DynamicConv2d, DynamicMixin
from razor_ext.supernet.mutables import BaseMutable, OneShotMutableChannel
from razor_ext.nas import NasMutator
from razor_ext.supernet.fix_subnet import export_fix_subnet, load_fix_subnet
from tests.supernet.elastic_supernets import ElasticMobileNet, ElasticViT


def _train_briefly(model: nn.Module, mutator: NasMutator, steps: int = 3) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(steps):
        for kind in ('max', 'min', 'random'):
            mutator.set_choices(mutator.sample_choices(kind))
            loss = model(torch.randn(8, 1, 28, 28)).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


@pytest.mark.parametrize('build', [ElasticMobileNet, ElasticViT], ids=['mobilenet', 'vit'])
def test_sampled_static_subnets_equal_the_supernet_and_round_trip(build, tmp_path):
    torch.manual_seed(0)
    random.seed(0)
    model = build()
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    _train_briefly(model, mutator)
    x = torch.randn(2, 1, 28, 28)
    for i, kind in enumerate(('max', 'min', 'random', 'random')):
        choices = mutator.sample_choices(kind)
        mutator.set_choices(choices)
        with torch.no_grad():
            want = model(x)
        subnet, static = export_fix_subnet(model, slice_weight=True, path=tmp_path / f's{i}.yaml')
        assert not any(isinstance(m, DynamicMixin) for m in static.modules())
        assert all(m.is_fixed for m in static.modules() if isinstance(m, BaseMutable))
        with torch.no_grad():
            torch.testing.assert_close(static(x), want)
        # a fresh supernet with the same weights, fixed from the YAML file, is the same subnet
        fresh = build()
        fresh.load_state_dict(model.state_dict())
        fixed = load_fix_subnet(fresh.eval(), tmp_path / f's{i}.yaml')
        with torch.no_grad():
            torch.testing.assert_close(fixed(x), want)
        if kind == 'min':
            smaller = sum(p.numel() for p in static.parameters())
            assert smaller < sum(p.numel() for p in model.parameters())
    to_onnx(static, x, tmp_path / 'subnet.onnx')  # verified in onnxruntime


def test_mutator_groups_aliases_and_never_searches_derived_values():
    model = ElasticMobileNet()
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    groups = mutator.search_groups
    assert 'stage0.width' in groups and 'stage1.depth' in groups and 'stage0.0.expand' in groups
    assert len(groups) == 1 + 2 * (1 + 1 + 2 * 2)  # stem width; per stage: width, depth, 2 x (expand, kernel)
    mutator.set_min_choices()
    assert model.stages[0][1].pwl.active_shape(8)[1] == 8
    assert model.stages[0][1].pw.active_shape(8)[1] == 8 * 3  # derived: width * expand
    with pytest.raises(ValueError, match=r"stage0.width.*not one of \[8, 16\]"):
        mutator.set_choices({**mutator.current_choices, 'stage0.width': 12})


@pytest.mark.parametrize('build', [ElasticMobileNet, ElasticViT], ids=['mobilenet', 'vit'])
def test_estimator_counts_the_active_subnet_as_its_static_copy(build):
    from razor_ext.estimators import ResourceEstimator
    torch.manual_seed(0)
    model = build().eval()
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    est = ResourceEstimator(input_shape=(1, 1, 28, 28), units=None)
    results = []
    for kind in ('max', 'min', 'random'):
        mutator.set_choices(mutator.sample_choices(kind))
        _, static = export_fix_subnet(model, slice_weight=True)
        got, want = est.estimate(model), est.estimate(static)
        assert got == want and got['flops'] > 0
        results.append(got)
    assert results[1]['flops'] < results[0]['flops'] / 2 and results[1]['params'] < results[0]['params']


def test_elastic_conv_at_half_width_has_a_quarter_of_the_flops():
    from razor_ext.estimators import ResourceEstimator
    conv = DynamicConv2d(16, 16, 3, padding=1, bias=False)
    width = OneShotMutableChannel(16, [8, 16])
    conv.register_mutable_attr('out_channels', width)
    net = nn.Sequential(DynamicConv2d(16, 16, 1, bias=False).register_mutable_attr('out_channels', width), conv)
    est = ResourceEstimator(input_shape=(1, 16, 8, 8), units=None)
    full = est.estimate(conv)['flops']
    assert full == 2 * 16 * 16 * 9 * 64
    width.current_choice = 8
    assert est.estimate(net)['flops'] == 2 * 8 * 16 * 64 + 2 * 8 * 8 * 9 * 64
    assert est.estimate(net)['params'] == 8 * 16 + 8 * 8 * 9


@pytest.mark.parametrize('build', [ElasticMobileNet, ElasticViT], ids=['mobilenet', 'vit'])
def test_supernet_trains_under_autocast_like_its_static_subnet(build):
    # Mixed precision: every dynamic layer runs in bfloat16, the float32 parameters get float32
    # gradients, and the outputs are close to the same subnet's, sliced out and run statically.
    torch.manual_seed(0)
    random.seed(0)
    model = build()
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    mutator.set_choices(mutator.sample_choices('random'))
    _, static = export_fix_subnet(model, slice_weight=True)
    x = torch.randn(4, 1, 28, 28)
    outputs = []
    for net in (model, static):
        with torch.autocast('cpu', dtype=torch.bfloat16):
            y = net(x)
        assert y.dtype == torch.bfloat16
        y.float().square().mean().backward()
        outputs.append(y.float())
    assert all(p.grad.dtype == torch.float32 for p in model.parameters() if p.grad is not None)
    scale = float(outputs[1].abs().max())
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0.05, atol=0.05 * scale)
