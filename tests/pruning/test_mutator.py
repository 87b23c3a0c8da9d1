"""ChannelMutator (masks, choices, MMRazor config, static conversion) and the algorithms."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from razor_ext.pruning import ChannelMutator
from razor_ext.registry import MODELS
from tests.pruning import zoo
from tests.pruning.planted import kept_channels, planted_net


def test_masked_model_equals_static_model_and_config_round_trips():
    torch.manual_seed(0)
    m = zoo.MobileNetV2().eval()
    x = torch.randn(2, 3, 32, 32)
    ref = m(x)
    mut = ChannelMutator(parse_cfg=dict(type='ChannelAnalyzer', tracer='fx'))
    mut.prepare_from_supernet(m, x)
    assert all(c == 1.0 for c in mut.current_choices.values())
    torch.testing.assert_close(m(x), ref)  # all-ones masks change nothing
    choices = mut.sample_choices()
    mut.set_choices(choices)
    assert mut.current_choices == choices == mut.choice_template
    static = mut.to_static()
    torch.testing.assert_close(static(x), m(x), rtol=1e-4, atol=1e-5)
    assert sum(p.numel() for p in static.parameters()) < sum(
        p.numel() for p in zoo.MobileNetV2().parameters())
    cfg = json.loads(json.dumps(mut.config_template()))
    units = cfg['channel_unit_cfg']['units']
    name = next(iter(units))
    assert set(units[name]['init_args']) == {'num_channels', 'divisor', 'min_value', 'min_ratio',
                                             'candidate_choices', 'choice_mode'}
    assert name.endswith(f"_{units[name]['init_args']['num_channels']}")
    # a fresh mutator built from the config reproduces the same static model
    fresh = zoo.MobileNetV2().eval()
    fresh.load_state_dict({k.replace('.parametrizations.weight.original', '.weight')
                           .replace('.parametrizations.bias.original', '.bias'): v
                           for k, v in m.state_dict().items() if 'mask' not in k})
    mut2 = ChannelMutator(channel_unit_cfg=cfg['channel_unit_cfg'], parse_cfg=cfg['parse_cfg'])
    mut2.prepare_from_supernet(fresh, x)
    torch.testing.assert_close(mut2.to_static()(x), static(x))


def test_set_choices_by_count_and_errors():
    m = zoo.ResNetBasic()
    mut = ChannelMutator(parse_cfg=dict(type='ChannelAnalyzer', demo_input=(1, 3, 32, 32)))
    mut.prepare_from_supernet(m)
    name = 'layers.1.conv1.0_(0, 32)_32'
    mut.set_choices({name: 8})
    assert mut.to_static().layers[1].conv1[0].out_channels == 8
    with pytest.raises(KeyError, match='unknown units'):
        mut.set_choices({'nope': 0.5})
    with pytest.raises(ValueError, match='ratio choice'):
        mut.set_choices({name: 1.5})


def test_ite_prune_reaches_target_step_by_step():
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    algo = MODELS.build(dict(type='ItePruneAlgorithm', architecture=zoo.ResNetBasic(),
                             target_pruning_ratio=0.5, step_freq=2, prune_times=2, example_inputs=x))
    opt = torch.optim.SGD(algo.parameters(), lr=0.01)
    seen = []
    for _ in range(5):
        algo.train_step((x, y), opt)
        seen.append(next(iter(algo.mutator.current_choices.values())))
    assert seen == [0.75, 0.75, 0.5, 0.5, 0.5]
    static = algo.to_static()
    assert static.layers[1].conv1[0].out_channels == 16
    assert static(x).shape == (4, 10)


def test_group_fisher_removes_the_channels_with_zero_fisher_first():
    # conv2 reads nothing from channels 2 and 5 of conv1 (zero columns), so every coupled
    # w * dL/dw of those channels is zero: their Fisher score is exactly 0, every other atom's is
    # positive. With lr=0 the weights stay planted; two removals must take exactly 2 and 5.
    net = planted_net('norms')
    with torch.no_grad():
        net[3].weight[:, [2, 5]] = 0.0
    x, y = torch.rand(4, 3, 4, 4), torch.tensor([0, 1, 0, 1])
    algo = MODELS.build(dict(type='GroupFisherAlgorithm', architecture=net, interval=1,
                             num_prune=2, example_inputs=x))
    opt = torch.optim.SGD(algo.parameters(), lr=0.0)
    for _ in range(3):
        algo.train_step((x, y), opt)
    assert algo.pruned == 2
    kept = {len(u.kept): np.nonzero(u.kept)[0].tolist() for u in algo.mutator.units}
    assert kept[8] == [0, 1, 3, 4, 6, 7] and kept[4] == [0, 1, 2, 3]
    static = algo.to_static()
    assert kept_channels(static) == [0, 1, 3, 4, 6, 7]


def test_group_fisher_removes_cheapest_channels():
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    algo = MODELS.build(dict(type='GroupFisherAlgorithm', architecture=zoo.ResNetBasic(),
                             interval=2, num_prune=3, example_inputs=x))
    opt = torch.optim.SGD(algo.parameters(), lr=0.01)
    for _ in range(8):
        algo.train_step((x, y), opt)
    assert algo.pruned == 3
    static = algo.to_static()
    full = sum(p.numel() for p in zoo.ResNetBasic().parameters())
    assert sum(p.numel() for p in static.parameters()) < full
    assert static(x).shape == (4, 10)


