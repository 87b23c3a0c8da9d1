"""Channel analysis: units of each structure, state left untouched, tracers, errors."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import razor_ext
from razor_ext.analysis import ChannelAnalyzer, TracerError
from razor_ext.pruning import PruningCheckError, analyze, prune
from tests.pruning import zoo
from tests.pruning.planted import kept_channels, planted_net


def units_by_name(model, x, tracer='auto'):
    return {u.name: u for u in ChannelAnalyzer(tracer).analyze(model, x)}


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1)
        self.c = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        y = self.a(x)
        y = y + self.b(y)
        return self.fc(torch.flatten(self.c(y) - y, 1))


@pytest.mark.parametrize('tracer', ['fx', 'autograd'])
def test_residual_add_sub_and_flatten_into_linear(tracer):
    units = units_by_name(Residual(), torch.randn(1, 3, 4, 4), tracer)
    u = units['a_(0, 8)_8']
    assert u.prunable
    assert {m for m, _, _ in u.output_related} == {'a', 'b', 'c'}
    # flatten: each channel is 16 consecutive inputs of fc
    assert ('fc', 0, 128) in u.input_related
    pruned = prune(Residual(), torch.randn(1, 3, 4, 4), 0.5)
    assert pruned.fc.in_features == 64 and pruned.a.out_channels == 4


class Concat(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1)
        self.b = nn.Conv2d(3, 6, 1)
        self.bn = nn.BatchNorm2d(10)
        self.c = nn.Conv2d(10, 2, 1)

    def forward(self, x):
        return self.c(self.bn(torch.cat([self.a(x), self.b(x)], 1)))


def test_concat_offsets():
    units = units_by_name(Concat(), torch.randn(1, 3, 4, 4))
    assert ('bn', 0, 4) in units['a_(0, 4)_4'].output_related
    assert ('c', 0, 4) in units['a_(0, 4)_4'].input_related
    assert ('bn', 4, 10) in units['b_(0, 6)_6'].output_related
    assert ('c', 4, 10) in units['b_(0, 6)_6'].input_related
    m = Concat().eval()
    p = prune(m, torch.randn(1, 3, 4, 4), 0.5)
    assert (p.a.out_channels, p.b.out_channels, p.bn.num_features, p.c.in_channels) == (2, 3, 5, 5)


def test_depthwise_couples_and_grouped_keeps_groups_equal():
    m = nn.Sequential(nn.Conv2d(3, 16, 1), nn.Conv2d(16, 16, 3, groups=16), nn.Conv2d(16, 16, 1),
                      nn.Conv2d(16, 16, 3, groups=4), nn.Conv2d(16, 4, 1))
    units = units_by_name(m, torch.randn(1, 3, 8, 8))
    dw = units['0_(0, 16)_16']
    assert {x[0] for x in dw.output_related} == {'0', '1'} and dw.prunable
    grouped = units['2_(0, 16)_16']
    assert grouped.prunable and grouped.num_atoms == 4  # same in-group index from each group
    p = prune(m, torch.randn(1, 3, 8, 8), 0.5)
    assert p[1].groups == p[1].in_channels == 8
    assert p[3].groups == 4 and p[3].in_channels == 8 and p[3].out_channels == 8
    p(torch.randn(1, 3, 8, 8))


def test_se_and_bn_stats_gathered():
    m = zoo.MobileNetV3().eval()
    units = units_by_name(m, torch.randn(1, 3, 32, 32))
    se_unit = [u for u in units.values() if any(x[0].endswith('se.fc2') for x in u.output_related)]
    assert se_unit and se_unit[0].prunable  # SE's expand conv joins the channels it scales


def test_analysis_leaves_state_and_modes_untouched():
    m = zoo.ResNetBasic().train()
    m.stem[1].momentum = 1.0  # a forward in train mode would overwrite the statistics
    before = {k: v.clone() for k, v in m.state_dict().items()}
    modes = [mm.training for mm in m.modules()]
    for tracer in ('fx', 'autograd'):
        analyze(m, torch.randn(2, 3, 32, 32), tracer=tracer)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    assert [mm.training for mm in m.modules()] == modes
    m.eval()
    analyze(m, torch.randn(2, 3, 32, 32))
    assert not any(mm.training for mm in m.modules())


class DataDependent(nn.Module):
    """fx cannot follow a branch on tensor values, nor kwargs; autograd can."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 8)
        self.b = nn.Linear(8, 8)
        self.c = nn.Linear(8, 3)

    def forward(self, x, scale=None):
        h = F.relu(self.a(x))
        if h.sum() > 0:
            h = h + self.b(h)
        return Out(logits=self.c(h * (1.0 if scale is None else scale)))


@dataclasses.dataclass
class Out:
    logits: torch.Tensor


def test_autograd_tracer_follows_control_flow_kwargs_and_dataclass_output():
    m = DataDependent()
    x = torch.randn(2, 4).abs()
    with pytest.raises(TracerError, match="tracer 'fx' failed"):
        ChannelAnalyzer('fx').analyze(m, x)
    for tracer in ('autograd', 'auto'):
        units = units_by_name(m, {'x': x, 'scale': 2.0}, tracer)
        assert units['a_(0, 8)_8'].prunable
        assert {x[0] for x in units['a_(0, 8)_8'].output_related} == {'a', 'b'}
    p = prune(m, {'x': x}, 0.5)
    assert p(x).logits.shape == (2, 3) and p.a.out_features == 4


class Untraceable(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)

    def forward(self, x):
        return {'not': 'a tensor', 'n': int(self.a(x).sum() > 0)}


def test_untraceable_model_names_each_tracer():
    with pytest.raises(TracerError) as err:
        analyze(Untraceable(), torch.randn(1, 4))
    assert "tracer 'fx' failed" in str(err.value) and "tracer 'autograd' failed" in str(err.value)


def test_unknown_op_blocks_its_channels_with_reason():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 8, 1)
            self.b = nn.Conv2d(8, 8, 1)

        def forward(self, x):
            return self.b(torch.fft.fft2(self.a(x)).real)

    report = analyze(Odd(), torch.randn(1, 3, 4, 4))
    u = [u for u in report.units if u.name.startswith('a_')][0]
    assert not u.prunable and 'fft2' in u.reason and 'not understood' in u.reason
    assert 'fft2' in report.report()
    p = prune(Odd(), torch.randn(1, 3, 4, 4), 0.5)  # the rest still prunes; the model runs
    assert p.a.out_channels == 8


def test_bad_inputs():
    m = zoo.ResNetBasic()
    x = torch.randn(2, 3, 32, 32)
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match='ratio'):
            prune(m, x, ratio=bad)
    with pytest.raises(ValueError, match=r'example_inputs\[0\] \(2, 5, 32, 32\)'):
        prune(m, torch.randn(2, 5, 32, 32), 0.5)
    with pytest.raises(ValueError, match='candidates: .*layers.0.conv1'):
        prune(m, x, 0.5, ignored=['layers.0.conv'])
    with pytest.raises(ValueError, match='round_to'):
        prune(m, x, 0.5, round_to=0)


def test_ignored_and_round_to():
    m = zoo.ResNetBasic()
    x = torch.randn(2, 3, 32, 32)
    p = prune(m, x, 0.5, ignored=['layers.1.conv1.0', m.layers[0].conv1])
    assert p.layers[1].conv1[0].out_channels == 32 and p.layers[0].conv1[0].out_channels == 16
    assert p.stem[0].out_channels == 8
    p = prune(m, x, 0.3, round_to=4)
    assert all(c.out_channels % 4 == 0 for c in p.modules() if isinstance(c, nn.Conv2d)
               and c is not p.fc)


def test_literal_head_count_keeps_the_heads_whole():
    class Fixed(nn.Module):
        """Reshapes with a literal head count that pruning cannot update."""

        def __init__(self):
            super().__init__()
            self.q = nn.Linear(8, 8)
            self.o = nn.Linear(8, 8)

        def forward(self, x):
            b, t, _ = x.shape
            h = self.q(x).view(b, t, 2, 4).transpose(1, 2)
            h = (h @ h.transpose(-1, -2) / 2.0).softmax(-1) @ h
            return self.o(h.transpose(1, 2).reshape(b, t, 8))

    x = torch.randn(1, 3, 8)
    text = analyze(Fixed(), x).report()
    assert 'op reshape in the top-level forward (Fixed): size 8 of dim 2 is neither' in text
    p = prune(Fixed(), x, 0.5)
    assert p.q.out_features == 8 and p(x).shape == (1, 3, 8)


def test_importance_criteria_and_target_flops():
    m = zoo.ResNetBasic()
    x = torch.randn(2, 3, 32, 32)
    sizes = {}
    for crit in ('l1', 'l2', 'bn_scale', 'random', 'fpgm'):
        p = prune(m, x, 0.5, importance=crit)
        sizes[crit] = sum(q.numel() for q in p.parameters())
    assert len(set(sizes.values())) == 1  # same counts, different channels
    p = prune(m, x, 0.5, importance='taylor', loss_fn=lambda out: out.pow(2).mean())
    assert sum(q.numel() for q in p.parameters()) == sizes['l1']
    with pytest.raises(ValueError, match='loss_fn'):
        prune(m, x, 0.5, importance='taylor')
    from razor_ext.pruning import flops_of
    p = prune(m, x, target_flops=0.5)
    assert flops_of(p, x) <= 0.5 * flops_of(m, x)
    assert flops_of(p, x) > 0.3 * flops_of(m, x)


@pytest.mark.parametrize('criterion, setup, kept', [
    ('l1', 'norms', [0, 1, 2, 3]),
    ('l2', 'norms', [4, 5, 6, 7]),
    ('bn_scale', 'norms', [1, 3, 5, 7]),
    ('fpgm', 'fpgm', [4, 5, 6, 7]),
    ('taylor', 'taylor', [0, 1, 2, 3]),
])
def test_each_criterion_removes_the_channels_planted_for_it(criterion, setup, kept):
    net = planted_net(setup)
    x = torch.rand(2, 3, 4, 4)  # positive, so the ReLU passes every planted channel
    pruned = prune(net, x, 0.5, importance=criterion, loss_fn=lambda out: out.sum())
    assert kept_channels(pruned) == kept
    # the kept filters are the originals, not copies of a neighbour
    idx = torch.tensor(kept)
    assert torch.equal(pruned[0].weight, net[0].weight[idx])
    assert torch.equal(pruned[3].weight, net[3].weight[:, idx][:pruned[3].out_channels]) or \
        pruned[3].weight.shape[1] == len(kept)


def test_random_criterion_ignores_the_weights_and_is_seeded():
    # The same channels whatever the weights (it does not rank them), and the same on every call.
    x = torch.rand(2, 3, 4, 4)
    chosen = {setup: kept_channels(prune(planted_net(setup), x, 0.5, importance='random'))
              for setup in ('norms', 'fpgm', 'taylor')}
    assert len(set(map(tuple, chosen.values()))) == 1
    assert kept_channels(prune(planted_net('norms'), x, 0.5, importance='random')) == chosen['norms']
    assert len(chosen['norms']) == 4


def test_public_entry_point():
    assert razor_ext.prune is prune
