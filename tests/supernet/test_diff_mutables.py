"""Differentiable mutables (DiffMutableOP, DiffChoiceRoute, GumbelChoiceRoute, OneHotMutableOP),
NasMutator's architecture parameters, and the DARTS cell search space with its subnet export."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from razor_ext.architectures.backbones import DartsBackbone
from razor_ext.supernet.mutables import (BaseMutable, DiffChoiceRoute, DiffMutableOP,
                                         GumbelChoiceRoute, OneHotMutableOP, OneShotMutableOP)
from razor_ext.nas import NasMutator
from razor_ext.registry import MODELS
from tests.mmrazor_source import mmrazor_text
from razor_ext.supernet.fix_subnet import export_fix_subnet, load_fix_subnet

PRIMITIVES = dict(
    zero=dict(type='mmrazor.DartsZero'),
    skip_connect=dict(type='mmrazor.DartsSkipConnect', use_drop_path=True),
    max_pool_3x3=dict(type='mmrazor.DartsPoolBN', pool_type='max', use_drop_path=True),
    avg_pool_3x3=dict(type='mmrazor.DartsPoolBN', pool_type='avg', use_drop_path=True),
    sep_conv_3x3=dict(type='mmrazor.DartsSepConv', kernel_size=3, use_drop_path=True),
    sep_conv_5x5=dict(type='mmrazor.DartsSepConv', kernel_size=5, use_drop_path=True),
    dil_conv_3x3=dict(type='mmrazor.DartsDilConv', kernel_size=3, use_drop_path=True),
    dil_conv_5x5=dict(type='mmrazor.DartsDilConv', kernel_size=5, use_drop_path=True))


@pytest.fixture(autouse=True)
def one_thread():
    # The 2 cores are shared: OpenMP's spinning threads make small depthwise convs 50x slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def darts_backbone(num_nodes: int = 2, base_channels: int = 4, **kw) -> DartsBackbone:
    return MODELS.build(dict(
        type='mmrazor.DartsBackbone', in_channels=1, base_channels=base_channels, num_layers=3,
        num_nodes=num_nodes, out_indices=(2,), stem_multiplier=3,
        mutable_cfg=dict(type='mmrazor.DiffMutableOP', candidates=PRIMITIVES),
        route_cfg=dict(type='mmrazor.DiffChoiceRoute', with_arch_param=True),
        norm_cfg=dict(type='BN', affine=False), **kw))


def three_ops(cls=DiffMutableOP, **kw):
    torch.manual_seed(0)
    return cls({'conv': nn.Conv2d(2, 2, 3, padding=1), 'pool': nn.AvgPool2d(3, 1, 1),
                'skip': nn.Identity()}, **kw)


# ----------------------------------------------------------------------------- DiffMutableOP
def test_diff_op_is_the_softmax_mix_and_alpha_gets_the_gradient():
    op = three_ops()
    alpha = nn.Parameter(torch.tensor([0.3, -1.0, 2.0]))
    op.set_forward_args(alpha)
    x = torch.randn(2, 2, 5, 5)
    w = F.softmax(alpha.detach(), 0)
    ref = w[0] * op._candidates['conv'](x) + w[1] * op._candidates['pool'](x) + w[2] * x
    out = op(x)
    torch.testing.assert_close(out, ref)
    out.square().sum().backward()
    # d/d alpha of sum_i softmax_i * y_i is softmax * (g_i - sum_j softmax_j g_j)
    with torch.no_grad():
        g = torch.stack([(2 * ref * o).sum() for o in
                         (op._candidates['conv'](x), op._candidates['pool'](x), x)])
        torch.testing.assert_close(alpha.grad, w * (g - (w * g).sum()))
    # the reference is held, not registered: the supernet's parameters are the weights only
    assert all(p is not alpha for p in op.parameters())
    assert op.sample_choice(alpha) == 'skip' and op.dump_chosen()['chosen'] == 'skip'


def test_diff_op_without_arch_param_runs_all_candidates_and_fixes():
    op = three_ops()
    x = torch.randn(1, 2, 4, 4)
    torch.testing.assert_close(op(x), sum(m(x) for m in op._candidates.values()))
    conv = op._candidates['conv']
    op.fix_chosen(['conv'])  # the subnet-file form: a one-element list
    assert op.is_fixed and op.choices == ['conv'] and op.current_choice == 'conv'
    torch.testing.assert_close(op(x), conv(x))
    assert op.to_static_op() is conv
    assert op.dump_chosen() == {'chosen': 'conv', 'meta': {'all_choices': ['conv', 'pool', 'skip']}}
    op.fix_chosen('conv')  # again, the same: a no-op
    with pytest.raises(AttributeError, match='already fixed'):
        op.fix_chosen('skip')


def test_diff_op_keeping_two_candidates_is_their_sum():
    op = three_ops()
    x = torch.randn(1, 2, 4, 4)
    ref = op._candidates['pool'](x) + x
    op.fix_chosen(['pool', 'skip'])
    torch.testing.assert_close(op(x), ref)
    static = op.to_static_op()
    assert not isinstance(static, BaseMutable)
    torch.testing.assert_close(static(x), ref)


def test_diff_op_bad_arguments():
    with pytest.raises(ValueError, match='fix_threshold'):
        three_ops(fix_threshold=1.5)
    op = three_ops()
    with pytest.raises(ValueError, match=r"'nope' is not one of \['conv', 'pool', 'skip'\]"):
        op.current_choice = 'nope'
    with pytest.raises(ValueError, match=r'shape \(3,\)'):
        op.set_forward_args(nn.Parameter(torch.zeros(4)))
    with pytest.raises(ValueError, match='non-empty'):
        DiffMutableOP({})
    with pytest.raises(TypeError, match="candidate 'x'"):
        DiffMutableOP({'x': 3})


def test_diff_op_builds_candidates_from_configs_with_module_kwargs():
    op = MODELS.build(dict(type='mmrazor.DiffMutableOP', candidates=PRIMITIVES,
                           module_kwargs=dict(in_channels=4, out_channels=4, stride=2)))
    op.eval()
    assert op.choices == list(PRIMITIVES)
    assert op(torch.randn(2, 4, 8, 8)).shape == (2, 4, 4, 4)


# ----------------------------------------------------------------------------- routes
def test_route_weights_edges_by_their_inputs_and_fixes_keeping_positions():
    torch.manual_seed(0)
    edges = {f'p{i}': nn.Conv2d(2, 2, 1) for i in range(3)}
    route = DiffChoiceRoute(edges, num_chosen=2, with_arch_param=True)
    alpha = nn.Parameter(torch.tensor([0.5, -0.2, 1.0]))
    route.set_forward_args(alpha)
    xs = [torch.randn(1, 2, 3, 3) for _ in range(3)]
    w = F.softmax(alpha.detach(), 0)
    torch.testing.assert_close(route(xs), sum(w[i] * edges[f'p{i}'](xs[i]) for i in range(3)))
    assert route.sample_choice(alpha) == ['p2', 'p0']
    with pytest.raises(ValueError, match='3 edges but got 2'):
        route(xs[:2])
    route.fix_chosen(['p2', 'p0'])
    ref = edges['p2'](xs[2]) + edges['p0'](xs[0])
    torch.testing.assert_close(route(xs), ref)
    static = route.to_static_op()
    assert type(static).__name__ == 'ChosenRoute' and static.index == [2, 0]
    torch.testing.assert_close(static(xs), ref)


def test_route_without_arch_param_sums_every_edge():
    route = DiffChoiceRoute({'a': nn.Identity(), 'b': nn.Identity()}, with_arch_param=False)
    route.set_forward_args(nn.Parameter(torch.tensor([5.0, -5.0])))  # ignored
    xs = [torch.ones(1), 2 * torch.ones(1)]
    assert route(xs).item() == 3.0 and route.current_choice == ['a', 'b']
    assert route.sample_choice() == route.max_choice == route.min_choice == ['a', 'b']
    with pytest.raises(ValueError, match='num_chosen'):
        DiffChoiceRoute({'a': nn.Identity()}, num_chosen=2)


def test_gumbel_route_samples_one_hot_with_a_soft_gradient():
    torch.manual_seed(0)
    route = GumbelChoiceRoute({f'p{i}': nn.Identity() for i in range(3)}, tau=0.5,
                              with_arch_param=True)
    alpha = nn.Parameter(torch.tensor([0.0, 1.0, 2.0]))
    route.set_forward_args(alpha)
    xs = [torch.full((1,), float(10 ** i)) for i in range(3)]
    out = route(xs)
    assert out.item() in (1.0, 10.0, 100.0)  # exactly one edge (hard sample)
    out.sum().backward()
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0  # straight-through
    picks = [int(torch.argmax(route.compute_arch_probs(alpha.detach()))) for _ in range(400)]
    counts = torch.bincount(torch.tensor(picks), minlength=3).float() / 400
    torch.testing.assert_close(counts, F.softmax(alpha.detach() / 1.0, 0), atol=0.07, rtol=0)
    with pytest.raises(ValueError, match='tau'):
        route.set_temperature(0.0)


# ----------------------------------------------------------------------------- OneHotMutableOP
def test_one_hot_op_runs_one_candidate_and_gives_alpha_the_dsnas_gradient():
    op = three_ops(OneHotMutableOP)
    calls = []
    for name, m in op._candidates.items():
        m.register_forward_hook(lambda mod, a, out, name=name: calls.append(name))
    alpha = nn.Parameter(torch.tensor([0.2, -0.3, 0.1]))
    op.set_forward_args(alpha)
    x = torch.randn(2, 2, 4, 4)
    torch.manual_seed(1)
    out = op(x)
    assert len(calls) == 1 and op.sampled_choice == calls[0]
    k = op.choices.index(calls[0])
    y = op._candidates[calls[0]](x).detach()
    torch.testing.assert_close(out, y)  # the one-hot weight is exactly 1 in value
    out.sum().backward()
    # DSNAS: dL/dalpha = dL/dZ_k * d log p_k / d alpha = sum(y) * (e_k - softmax(alpha))
    p = F.softmax(alpha.detach(), 0)
    torch.testing.assert_close(alpha.grad, y.sum() * (F.one_hot(torch.tensor(k), 3) - p))


def test_one_hot_op_samples_by_probability_and_takes_the_argmax_in_eval():
    op = OneHotMutableOP({n: nn.Identity() for n in 'abc'})
    alpha = torch.log(torch.tensor([0.6, 0.3, 0.1]))
    op.set_forward_args(alpha)
    torch.manual_seed(0)
    picks = []
    for _ in range(600):
        op(torch.zeros(1))
        picks.append(op.sampled_choice)
    freq = torch.tensor([picks.count(c) / 600 for c in 'abc'])
    torch.testing.assert_close(freq, torch.tensor([0.6, 0.3, 0.1]), atol=0.06, rtol=0)
    op.eval()
    assert {(op(torch.zeros(1)), op.sampled_choice)[1] for _ in range(20)} == {'a'}


def test_one_hot_op_fixes_itself_past_the_threshold():
    op = OneHotMutableOP({n: nn.Identity() for n in 'abc'}, fix_threshold=0.3)
    op.set_forward_args(torch.log(torch.tensor([0.25, 0.5, 0.25])))
    op(torch.zeros(1))
    assert not op.is_fixed  # 0.5 - 0.25 < 0.3
    op.set_forward_args(torch.log(torch.tensor([0.1, 0.2, 0.7])))
    op(torch.zeros(1))
    assert op.is_fixed and op.choices == ['c']


# ----------------------------------------------------------------------------- NasMutator
def test_mutator_arch_params_are_shared_by_aliases_and_live_in_the_mutator():
    net = nn.Sequential(three_ops(alias='edge'), three_ops(alias='edge'), three_ops())
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    assert mutator.arch_params == {}
    mutator.prepare_arch_params()
    params = mutator.arch_params
    assert sorted(params) == ['2', 'edge'] and params['edge'].shape == (3,)
    assert net[0].arch_param is params['edge'] and net[1].arch_param is params['edge']
    assert net[2].arch_param is params['2']
    assert {id(p) for p in mutator.parameters()} == {id(p) for p in params.values()}
    assert not {id(p) for p in net.parameters()} & {id(p) for p in params.values()}
    with torch.no_grad():
        params['edge'].copy_(torch.tensor([0.0, 3.0, 1.0]))
        params['2'].copy_(torch.tensor([5.0, 0.0, 1.0]))
    assert mutator.sample_choices() == {'edge': 'pool', '2': 'conv'}
    assert mutator.arch_choices() == {'edge': 'pool', '2': 'conv'}
    # one backward reaches the shared parameter through both members
    net(torch.randn(1, 2, 4, 4)).sum().backward()
    assert params['edge'].grad is not None and params['2'].grad is not None


def test_mutator_of_a_one_shot_supernet_has_no_arch_params():
    net = nn.Sequential(OneShotMutableOP({'a': nn.Identity(), 'b': nn.ReLU()}))
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    mutator.prepare_arch_params()
    assert mutator.arch_params == {} and not list(mutator.parameters())


# ----------------------------------------------------------------------------- DARTS space
def test_darts_backbone_has_mmrazor_names_and_shared_cell_aliases():
    net = darts_backbone(num_nodes=4)
    names = dict(net.named_modules())
    edge = names['cells.0.nodes.0.route._candidates.normal_n2_p0']
    assert isinstance(edge, DiffMutableOP) and edge.alias == 'normal_n2_p0'
    assert edge.choices == list(PRIMITIVES)
    assert names['cells.1.nodes.3.route'].alias == 'reduce_n5'
    assert type(names['cells.2.preproc0']).__name__ == 'FactorizedReduce'  # after a reduction
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    mutator.prepare_arch_params()
    groups = mutator.search_groups
    # 14 edges + 4 routes per cell type; cells 1 and 2 are both reduction cells and share
    assert len(groups) == 2 * (14 + 4)
    assert len(groups['reduce_n3_p1']) == 2 and len(groups['normal_n3_p1']) == 1
    assert mutator.arch_params['normal_n5'].shape == (5,)


def test_darts_supernet_trains_and_only_alpha_in_mutator():
    torch.manual_seed(0)
    net = darts_backbone()
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    mutator.prepare_arch_params()
    out = net(torch.randn(4, 1, 28, 28))[-1]
    assert out.shape == (4, 2 * 16, 7, 7)
    out.mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in mutator.parameters()
               if p.shape[0] == len(PRIMITIVES))


def _fixed_copy(net: nn.Module, subnet: dict) -> nn.Module:
    """Fix each mutable of a copy (no static conversion): the reference forward."""
    fixed = copy.deepcopy(net)
    for name, m in list(fixed.named_modules()):
        if isinstance(m, BaseMutable) and not m.is_fixed:
            m.fix_chosen(subnet[m.alias or name]['chosen'])
    return fixed


def test_darts_genotype_exports_and_builds_the_static_subnet(tmp_path):
    torch.manual_seed(0)
    net = darts_backbone()
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    mutator.prepare_arch_params()
    with torch.no_grad():
        for p in mutator.arch_params.values():
            p.normal_()
    net.eval()
    path = tmp_path / 'darts_subnet.yaml'
    subnet, static = export_fix_subnet(net, slice_weight=True, path=path)
    # argmax genotype, in MMRazor's format (routes: lists of edges)
    assert subnet['normal_n3'] == {'chosen': mutator.arch_choices()['normal_n3'],
                                   'meta': {'all_choices': ['normal_n3_p0', 'normal_n3_p1',
                                                            'normal_n3_p2']}}
    assert subnet['reduce_n2_p1']['chosen'] == mutator.arch_choices()['reduce_n2_p1']
    assert not any(isinstance(m, BaseMutable) for m in static.modules())
    x = torch.randn(3, 1, 28, 28)
    torch.testing.assert_close(static(x)[-1], _fixed_copy(net, subnet)(x)[-1])
    assert sum(p.numel() for p in static.parameters()) < sum(p.numel() for p in net.parameters())
    # the file round-trips onto a fresh supernet; a file with only `chosen:` loads too
    loaded = yaml.safe_load(path.read_text())
    assert loaded == subnet
    fresh = load_fix_subnet(darts_backbone(), {k: {'chosen': v['chosen']} for k, v in loaded.items()})
    assert not any(isinstance(m, BaseMutable) for m in fresh.modules())
    assert ([n for n, _ in fresh.named_parameters()] == [n for n, _ in static.named_parameters()])


def test_darts_subnet_naming_a_missing_edge_is_an_error():
    with pytest.raises(KeyError, match='normal_n9_p0'):
        load_fix_subnet(darts_backbone(), {'normal_n9_p0': {'chosen': ['sep_conv_3x3']}})


def test_mmrazor_darts_subnet_file_loads():
    text = mmrazor_text('configs/nas/mmcls/darts/DARTS_SUBNET_CIFAR_PAPER_ALIAS.yaml')
    subnet = yaml.safe_load(text)
    net = load_fix_subnet(darts_backbone(num_nodes=4), subnet)
    assert not any(isinstance(m, BaseMutable) for m in net.modules())
    net.eval()
    assert net(torch.randn(1, 1, 28, 28))[-1].shape == (1, 4 * 16, 7, 7)
