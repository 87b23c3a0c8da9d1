"""AutoSlim's MMRazor components: OneShotChannelMutator (one-shot widths of a plain model,
leading channels, divisor rounding), AutoSlim's ``bn_training_mode`` and SlimmableNetwork
(all subnets per step, gradients averaged; a deployed subnet)."""
from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from razor_ext.nas import AutoSlim, OneShotChannelMutator, SlimmableNetwork
from razor_ext.registry import MODELS

PARSE = dict(type='ChannelAnalyzer', demo_input=(1, 3, 8, 8), tracer_type='BackwardTracer')
UNIT_CFG = dict(type='OneShotMutableChannelUnit', default_args=dict(
    candidate_choices=[i / 12 for i in range(2, 13)], choice_mode='ratio', divisor=8))


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.Conv2d(32, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 4))


def test_one_shot_channel_mutator_keeps_leading_channels_rounded_to_the_divisor():
    net = _net().eval()
    mutator = MODELS.build(dict(type='mmrazor.OneShotChannelMutator', channel_unit_cfg=UNIT_CFG,
                                parse_cfg=PARSE))
    mutator.prepare_from_supernet(net)
    assert sorted(mutator.search_groups) == ['0_(0, 32)_32', '3_(0, 24)_24']
    # ratio 2/12 of 32 channels = 5.3 -> 8 (make_divisible); of 24 = 4 -> 8
    assert mutator.channels_of(mutator.min_choices) == {'0_(0, 32)_32': 8, '3_(0, 24)_24': 8}
    # 18.7 rounds to 16, which loses over 10%, so one multiple up (make_divisible's min_ratio)
    assert mutator.channels_of({'0_(0, 32)_32': 7 / 12}) == {'0_(0, 32)_32': 24}
    assert mutator.channels_of({'0_(0, 32)_32': 9 / 12}) == {'0_(0, 32)_32': 24}
    x = torch.randn(2, 3, 8, 8)
    full = net[:3](x)
    mutator.set_choices(mutator.min_choices)
    slim = net[:3](x)
    torch.testing.assert_close(slim[:, :8], full[:, :8])  # the leading channels, unchanged
    assert slim[:, 8:].abs().sum() == 0
    static = mutator.to_static()
    assert static[0].out_channels == 8 and static[3].out_channels == 8
    torch.testing.assert_close(static(x), net(x))
    mutator.set_choices(mutator.max_choices)
    torch.testing.assert_close(net[:3](x), full)
    with pytest.raises(KeyError, match='unknown channel units'):
        mutator.set_choices({'nope': 0.5})
    with pytest.raises(ValueError, match=r'\(0, 1\]'):
        mutator.set_choices({'0_(0, 32)_32': 1.5})
    with pytest.raises(ValueError, match='OneShotMutableChannelUnit'):
        OneShotChannelMutator(dict(type='L1MutableChannelUnit'))


def test_autoslim_trains_max_min_random_widths_and_keeps_bn_training_in_eval():
    random.seed(0)
    algo = MODELS.build(dict(type='mmrazor.AutoSlim', architecture=_net(), bn_training_mode=True,
                             num_random_samples=1,
                             mutator=dict(type='OneShotChannelMutator', channel_unit_cfg=UNIT_CFG,
                                          parse_cfg=PARSE)))
    opt = torch.optim.SGD(algo.parameters(), lr=0.1)
    batch = (torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3]))
    log = algo.train_step(batch, opt)
    assert set(log) >= {'max_subnet.loss', 'min_subnet.loss_kd', 'random0_subnet.loss_kd'}
    algo.eval()
    assert algo.architecture[1].training  # bn_training_mode: BN in training mode in eval
    assert not algo.architecture[0].training
    with pytest.raises(ValueError, match='disagree'):
        AutoSlim(_net(), mutator=OneShotChannelMutator(UNIT_CFG, PARSE), norm_training=False,
                 bn_training_mode=True)


def _slimmable_units() -> dict:
    return {'0_(0, 32)_32': {'init_args': {'candidate_choices': [8, 32]}, 'choice': 32},
            '3_(0, 24)_24': {'init_args': {'candidate_choices': [16, 24]}, 'choice': 24}}


def _slimmable(deploy_index: int = -1) -> SlimmableNetwork:
    return MODELS.build(dict(type='mmrazor.SlimmableNetwork', architecture=_net(),
                             deploy_index=deploy_index,
                             mutator=dict(type='SlimmableChannelMutator', parse_cfg=PARSE,
                                          channel_unit_cfg=dict(type='SlimmableChannelUnit',
                                                                units=_slimmable_units()))))


def _grads(algo: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in algo.parameters() if p.grad is not None])


def test_slimmable_network_averages_the_gradients_of_every_subnet():
    algo = _slimmable()
    assert algo.num_subnet == 2
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
    # the expected gradient: mean of the two subnets' loss gradients
    want = []
    for subnet in algo.mutator.subnets:
        algo.zero_grad()
        algo.mutator.set_choices(subnet)
        nn.functional.cross_entropy(algo.architecture(x), y).backward()
        want.append(_grads(algo))
    grads = []
    opt = torch.optim.SGD(algo.parameters(), lr=0.0)
    opt.step = lambda *a, **k: grads.append(_grads(algo))
    log = algo.train_step((x, y), opt)
    assert set(log) == {'subnet_0.loss', 'subnet_1.loss'} and len(grads) == 1
    torch.testing.assert_close(grads[0], (want[0] + want[1]) / 2)


def test_slimmable_network_deploys_one_subnet_as_a_plain_model():
    algo = _slimmable(deploy_index=0)
    assert algo.is_deployed
    assert algo.architecture[0].out_channels == 8 and algo.architecture[3].out_channels == 16
    log = algo.train_step((torch.randn(2, 3, 8, 8), torch.tensor([0, 1])),
                          torch.optim.SGD(algo.parameters(), lr=0.1))
    assert set(log) == {'loss'}
    with pytest.raises(ValueError, match='deploy_index'):
        _slimmable(deploy_index=2)


def test_slimmable_val_loop_reports_every_subnet_under_the_runner(tmp_path):
    from razor_ext.engine import Runner

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                        nn.Conv2d(32, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 10))
    parse = dict(type='ChannelAnalyzer', demo_input=(1, 1, 8, 8))
    algo = SlimmableNetwork(net, mutator=dict(type='SlimmableChannelMutator', parse_cfg=parse,
                                              channel_unit_cfg=dict(type='SlimmableChannelUnit',
                                                                    units=_slimmable_units())))
    loader = dict(batch_size=100, dataset=dict(type='EmbeddedDigits', name='mnist5k', split='val'))
    runner = Runner.from_cfg(dict(model=algo, work_dir=str(tmp_path), val_dataloader=loader,
                                  val_cfg=dict(type='mmrazor.SlimmableValLoop')))
    before = dict(algo.mutator.current_choices)
    metrics = runner.val()
    assert {'subnet_0.accuracy/top1', 'subnet_1.accuracy/top1'} <= set(metrics)
    assert algo.mutator.current_choices == before


def test_autoslim_greedy_search_slims_the_unit_that_costs_least_score(tmp_path, monkeypatch):
    """The score here falls only when the first unit narrows, so the greedy search must slim the
    second unit first, down to its narrowest, before it touches the first."""
    from razor_ext.engine import Runner
    from razor_ext.engine.loops import AutoSlimGreedySearchLoop

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                        nn.Conv2d(32, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 10))
    unit_cfg = dict(type='OneShotMutableChannelUnit', default_args=dict(
        candidate_choices=[0.25, 0.5, 0.75, 1.0], choice_mode='ratio', divisor=8))
    algo = AutoSlim(net, mutator=OneShotChannelMutator(unit_cfg, dict(type='ChannelAnalyzer',
                                                                     demo_input=(1, 1, 8, 8))))
    first, second = '0_(0, 32)_32', '3_(0, 24)_24'
    monkeypatch.setattr(AutoSlimGreedySearchLoop, '_score',
                        lambda self, model: 100.0 * model.mutator.current_choices[first])
    loader = dict(batch_size=100, dataset=dict(type='EmbeddedDigits', name='mnist5k', split='val'))
    estimator = dict(input_shape=(1, 1, 8, 8))
    # the FLOPs of the widest subnet, for the targets
    runner = Runner.from_cfg(dict(model=algo, work_dir=str(tmp_path), test_dataloader=loader,
                                  test_cfg=dict(type='AutoSlimGreedySearchLoop',
                                                target_flops=(1.0,), estimator_cfg=estimator)))
    widest = runner.test_loop._flops(algo.mutator, algo.mutator.max_choices)
    before = dict(algo.mutator.current_choices)
    runner = Runner.from_cfg(dict(model=algo, work_dir=str(tmp_path), test_dataloader=loader,
                                  test_cfg=dict(type='mmrazor.AutoSlimGreedySearchLoop', estimator_cfg=estimator,
                                                target_flops=(0.9 * widest, 0.4 * widest))))
    results = runner.test()
    assert [f <= t for (f, _), t in zip(results, (0.9 * widest, 0.4 * widest))] == [True, True]
    assert results[0][1][first] == 1.0 and results[0][1][second] < 1.0
    assert results[1][1][second] == 0.25  # the second unit went to its narrowest first
    assert algo.mutator.current_choices == before
    assert (tmp_path / f'FLOPS_{results[1][0]:.2f}M.yaml').is_file()
    with pytest.raises(ValueError, match='target_flops'):
        Runner.from_cfg(dict(model=algo, work_dir=str(tmp_path), test_dataloader=loader,
                             test_cfg=dict(type='AutoSlimGreedySearchLoop', target_flops=())))
