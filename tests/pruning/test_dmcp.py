"""DMCP: the Markov channel model (group layout, gating, expected widths and FLOPs), the FLOPs
loss, and the algorithm's schedule (subnets per step, arch-parameter steps)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from razor_ext.pruning import DMCP, DMCPChannelMutator
from razor_ext.pruning.algorithms.dmcp import dmcp_flops_loss
from razor_ext.pruning.mutators.dmcp_channel_mutator import arch_message

PARSE = dict(type='ChannelAnalyzer', demo_input=(1, 3, 8, 8))


def net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 40, 3, padding=1), nn.BatchNorm2d(40), nn.ReLU(),
                         nn.Conv2d(40, 20, 3, stride=2, padding=1), nn.BatchNorm2d(20), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(20, 5))


def prepared(model: nn.Module) -> DMCPChannelMutator:
    mut = DMCPChannelMutator(parse_cfg=PARSE)
    mut.prepare_from_supernet(model)
    return mut


def test_group_layout_of_mmrazor():
    assert arch_message(64, (0.1, 1, 0.05)) == (3, 18, 10)
    assert arch_message(2048, (0.1, 1, 0.05)) == (102, 18, 212)
    with pytest.raises(ValueError, match='leaves no channel'):
        arch_message(2, (0.0, 1, 0.5))


def test_markov_gating_of_the_norm_outputs_and_its_gradient():
    model = net().eval()
    mut = prepared(model)
    assert [u.num_channels for u in mut.units] == [40, 20]
    gs, ng, min_ch = mut.arch_attrs[0]
    assert (gs, ng, min_ch) == (2, 18, 4)
    with torch.no_grad():
        mut.arch_params['0'].copy_(torch.linspace(-1, 1, ng))
    x = torch.randn(2, 3, 8, 8)
    plain = model[1](model[0](x))
    mut.arch_train = True
    gated = model[1](model[0](x))
    keep = torch.cumprod(torch.exp(-torch.linspace(-1, 1, ng).clamp(min=0)), 0)
    scale = torch.cat([torch.ones(min_ch), keep.repeat_interleave(gs)])
    torch.testing.assert_close(gated, plain * scale.view(1, -1, 1, 1))
    gated.sum().backward()
    grad = mut.arch_params['0'].grad
    assert grad is not None and grad[ng // 2 + 1:].abs().sum() > 0
    assert not grad[:ng // 2].any()  # clamp(min=0): negative params get no gradient
    mut.arch_train = False
    torch.testing.assert_close(model[1](model[0](x)), plain)


def test_sampled_widths_keep_the_first_channels():
    model = net()
    mut = prepared(model)
    assert mut.sample_subnet('max', False) == {u.name: u.num_channels for u in mut.units}
    assert list(mut.sample_subnet('min', False).values()) == [4, 2]
    alive = model[0].weight.detach().flatten(1).abs().sum(1) > 0
    assert alive.tolist() == [True] * 4 + [False] * 36
    with torch.no_grad():
        mut.arch_params['0'].fill_(50.0)  # keep probability exp(-50): the chain stops at once
    assert mut.choice_of('direct', 0) == 4 and mut.choice_of('direct', 1) == 20
    expected = mut.choice_of('expected', 1)
    assert isinstance(expected, torch.Tensor) and math.isclose(float(expected.detach()), 20.0)


def macs(model: nn.Module, x: torch.Tensor) -> int:
    total = 0

    def hook(m, inp, out):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups * \
                m.out_channels * out.shape[-1] * out.shape[-2]
        else:
            total += m.in_features * m.out_features

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(hook)
    model(x)
    return total


def test_expected_flops_match_the_pruned_model_at_the_extremes():
    model = net()
    mut = prepared(model)
    x = torch.randn(1, 3, 8, 8)
    assert math.isclose(float(mut.expected_flops().detach()), macs(net(), x))
    with torch.no_grad():
        for p in mut.arch_params.values():
            p.fill_(60.0)
    mut.sample_subnet('min', False)
    static = mut.to_static(model)
    assert static[0].out_channels == 4 and static[3].out_channels == 2
    assert math.isclose(float(mut.expected_flops().detach()), macs(static, x), rel_tol=1e-6)


def test_flops_loss_types():
    e = torch.tensor(3e6, dtype=torch.float64)
    assert float(dmcp_flops_loss(e, 2.0, 'l1')) == 1e6
    assert float(dmcp_flops_loss(e, 2.0, 'l2', weight=0.5)) == 0.5e12
    # log_l1 as MMRazor: the band and offset in MFLOPs against FLOPs
    assert math.isclose(float(dmcp_flops_loss(e, 2.0)), math.log(0.1 * (3e6 - 1.9)))
    with pytest.raises(ValueError, match='flops_loss_type'):
        dmcp_flops_loss(e, 2.0, 'l3')


def test_schedule_subnets_distillation_and_arch_steps():
    algo = DMCP(net(), mutator_cfg=dict(type='DMCPChannelMutator', parse_cfg=PARSE),
                distiller=dict(
                    type='ConfigurableDistiller',
                    student_recorders=dict(fc=dict(type='ModuleOutputs', source='8')),
                    teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='8')),
                    distill_losses=dict(loss_kl=dict(type='KLDivergence', tau=1)),
                    loss_forward_mappings=dict(loss_kl=dict(
                        preds_S=dict(recorder='fc', from_student=True),
                        preds_T=dict(recorder='fc', from_student=False)))),
                strategy=['max', 'min', 'scheduled_random', 'arch_random'],
                arch_start_train=0, arch_train_freq=1, distillation_times=0, target_flops=0.01)
    opt = dict(architecture=torch.optim.SGD(algo.architecture.parameters(), lr=0.01),
               mutator=torch.optim.Adam(algo.mutator.parameters(), lr=0.1))
    data = (torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3]))
    first = algo.train_step(data, opt)  # iteration 0: no arch training, no distillation yet
    assert set(first) == {'max_subnet1.loss', 'min_subnet1.loss', 'random_subnet1.loss',
                          'random_subnet2.loss'}
    assert algo.cur_sample_prob == 0.9999
    before = [p.detach().clone() for p in algo.mutator.arch_params.values()]
    flops_before = float(algo.mutator.expected_flops().detach())
    second = algo.train_step(data, opt)
    assert algo.arch_train and {'arch.loss', 'flops.loss', 'min_subnet1.loss_kl'} <= set(second)
    assert any(not torch.equal(b, p) for b, p in zip(before, algo.mutator.arch_params.values()))
    assert float(algo.mutator.expected_flops().detach()) < flops_before  # the FLOPs loss pulls widths down
    assert all(p.grad is None for p in algo.architecture.parameters())
    with pytest.raises(ValueError, match='strategy'):
        DMCP(net(), distiller=dict(type='ConfigurableDistiller'), strategy=['biggest'],
             mutator_cfg=dict(parse_cfg=PARSE))


def test_subnet_hook_writes_samples_near_the_target_that_sub_model_rebuilds(tmp_path):
    import json
    import random
    from types import SimpleNamespace

    from razor_ext.registry import HOOKS, MODELS

    random.seed(0)
    full = macs(net(), torch.randn(1, 3, 8, 8))
    algo = DMCP(net(), distiller=dict(type='ConfigurableDistiller'),
                mutator_cfg=dict(parse_cfg=PARSE))
    with torch.no_grad():
        for p in algo.mutator.arch_params.values():
            p.fill_(0.1)  # each further group kept with probability 0.9
    target = float(algo.mutator.expected_flops().detach())
    assert target < 0.8 * full
    algo.target_flops = target / 1e6
    hook = HOOKS.build(dict(type='DMCPSubnetHook', subnet_sample_num=2))
    hook.after_run(SimpleNamespace(model=algo, work_dir=tmp_path))
    files = sorted(p.name for p in (tmp_path / 'model_sample').iterdir())
    assert files == ['excepted_ch.json', 'subnet_1.json', 'subnet_2.json']
    cfg = json.loads((tmp_path / 'model_sample' / 'subnet_1.json').read_text())
    assert cfg['type'] == 'DMCPChannelMutator'
    small = MODELS.build(dict(type='mutator_sub_model', cfg=net(), fix_subnet=cfg))
    got = macs(small, torch.randn(1, 3, 8, 8))
    assert 0.95 * target <= got <= 1.05 * target
