import json
import random

import pytest
import torch
from torch import nn

from razor_ext.export import to_onnx
from razor_ext.architectures import SearchableMnistNet
from razor_ext.supernet.mutables import OneShotMutableOP, OneShotMutableValue
from razor_ext.nas import NasMutator
from razor_ext.registry import MODELS
from razor_ext.supernet.fix_subnet import export_fix_subnet, load_fix_subnet


def supernet():
    torch.manual_seed(0)
    return SearchableMnistNet(width=4, depth=1).eval()


def test_mutable_op_runs_the_current_choice_and_fixes():
    op = OneShotMutableOP({'relu': nn.ReLU(), 'neg': {'type': nn.Identity}}, alias='act')
    x = torch.randn(3, 4)
    assert op.choices == ['relu', 'neg'] and op.current_choice == 'relu'
    assert torch.equal(op(x), x.relu())
    op.current_choice = 'neg'
    assert torch.equal(op(x), x)
    assert torch.equal(op.forward_all(x), x.relu() + x)
    with pytest.raises(ValueError, match=r"'nope' is not one of \['relu', 'neg'\]"):
        op.current_choice = 'nope'
    op.fix_chosen('relu')
    assert op.choices == ['relu'] and op.is_fixed
    with pytest.raises(RuntimeError, match='fixed'):
        op.current_choice = 'neg'
    assert op.dump_chosen() == {'chosen': 'relu', 'meta': {'all_choices': ['relu']}}


def test_mutable_value_and_derived_values():
    v = OneShotMutableValue([2, 4, 6], default_value=4)
    quad, half = v * 4, v // 2
    assert (quad.current_choice, half.current_choice) == (16, 2)
    v.current_choice = 6
    assert (quad.current_choice, half.current_choice, (half * 3).current_choice) == (24, 3, 9)
    assert (v.max_choice, v.min_choice) == (6, 2)
    with pytest.raises(ValueError, match='not one of'):
        OneShotMutableValue([1, 2], default_value=3)


def test_mutator_groups_aliases_and_sets_choices():
    net = nn.Sequential(OneShotMutableOP({'a': nn.Identity(), 'b': nn.ReLU()}, alias='shared'),
                        OneShotMutableOP({'a': nn.Identity(), 'b': nn.ReLU()}, alias='shared'),
                        OneShotMutableOP({'x': nn.Identity(), 'y': nn.Tanh()}))
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    assert sorted(mutator.search_groups) == ['2', 'shared'] and len(mutator.search_groups['shared']) == 2
    mutator.set_choices({'shared': 'b', '2': 'y'})
    assert net[0].current_choice == net[1].current_choice == 'b'
    assert mutator.max_choices == {'shared': 'a', '2': 'x'} and mutator.min_choices == {'shared': 'b', '2': 'y'}
    mutator.set_max_choices()
    assert mutator.current_choices == {'shared': 'a', '2': 'x'}
    random.seed(1)
    seen = {tuple(sorted(mutator.sample_choices().items())) for _ in range(40)}
    assert len(seen) == 4
    with pytest.raises(ValueError, match=r"search group '2'.*not one of \['x', 'y'\]"):
        mutator.set_choices({'shared': 'a', '2': 'z'})
    with pytest.raises(KeyError, match=r"unknown search groups \['bogus'\]"):
        mutator.set_choices({'shared': 'a', '2': 'x', 'bogus': 1})
    with pytest.raises(ValueError, match='kind must be'):
        mutator.sample_choices('median')


def test_custom_groups_and_errors():
    net = SearchableMnistNet(width=4, depth=2)
    paths = [n for n, m in net.named_modules() if isinstance(m, OneShotMutableOP)]
    mutator = NasMutator(custom_groups={'first_stage': paths[:2]})
    mutator.prepare_from_supernet(net)
    assert len(mutator.search_groups) == len(paths) - 1
    with pytest.raises(KeyError, match='not a mutable'):
        NasMutator(custom_groups={'g': ['features.99']}).prepare_from_supernet(net)
    with pytest.raises(ValueError, match='no mutables'):
        NasMutator().prepare_from_supernet(nn.Linear(2, 2))


def test_static_subnet_matches_supernet_and_round_trips_yaml(tmp_path):
    model = supernet()
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    random.seed(3)
    x = torch.randn(2, 1, 28, 28)
    for _ in range(3):
        mutator.set_choices(mutator.sample_choices())
        with torch.no_grad():
            expected = model(x)
        subnet, static = export_fix_subnet(model, slice_weight=True, path=tmp_path / 'subnet.yaml')
        assert not any(isinstance(m, OneShotMutableOP) for m in static.modules())
        with torch.no_grad():
            torch.testing.assert_close(static(x), expected)
        fresh = supernet()
        load_fix_subnet(fresh, tmp_path / 'subnet.yaml')
        fresh.load_state_dict(static.state_dict())
        with torch.no_grad():
            torch.testing.assert_close(fresh(x), expected)
    assert sum(p.numel() for p in static.parameters()) < sum(p.numel() for p in model.parameters())
    to_onnx(static, x, tmp_path / 'subnet.onnx')  # verified in onnxruntime


def test_chosen_only_json_files_load_and_bad_subnets_are_named(tmp_path):
    model = supernet()
    names = [n for n, m in model.named_modules() if isinstance(m, OneShotMutableOP)]
    path = tmp_path / 'subnet.json'
    path.write_text(json.dumps({n: {'chosen': 'skip'} for n in names}))
    load_fix_subnet(model, path)
    assert not any(isinstance(m, OneShotMutableOP) for m in model.modules())
    with pytest.raises(KeyError, match=r"names \['features.42'\]"):
        load_fix_subnet(supernet(), {**{n: {'chosen': 'skip'} for n in names}, 'features.42': {'chosen': 'skip'}})
    with pytest.raises(KeyError, match='no entry for mutable'):
        load_fix_subnet(supernet(), {names[0]: {'chosen': 'skip'}})
    with pytest.raises(ValueError, match='not one of'):
        load_fix_subnet(supernet(), {n: {'chosen': 'conv7x7'} for n in names})


def test_registry_builds_mutables_and_mutator():
    op = MODELS.build(dict(type='OneShotMutableOP', candidates=dict(a=dict(type=nn.Identity))))
    assert op.choices == ['a']
    assert isinstance(MODELS.build(dict(type='NasMutator')), NasMutator)


def test_mmrazor_scoped_names_scope_key_and_sub_model():
    assert MODELS.get('mmrazor.NasMutator') is NasMutator
    assert MODELS.get('mmcls.SearchableMnistNet') is SearchableMnistNet
    assert MODELS.get('mmrazor.NoSuch') is None
    mutator = MODELS.build(dict(type='mmrazor.NasMutator', _scope_='mmrazor'))
    assert isinstance(mutator, NasMutator)
    subnet = {f'features.{i}': {'chosen': c} for i, c in zip((1, 4, 6), ('conv5x5', 'skip', 'dwsep3x3'))}
    model = MODELS.build(dict(type='sub_model', cfg=dict(type='mmrazor.SearchableMnistNet', width=4, depth=1),
                              fix_subnet=subnet))
    assert isinstance(model.features[4], nn.Identity) and model.features[1][0].kernel_size == (5, 5)
    assert model(torch.randn(1, 1, 28, 28)).shape == (1, 10)
    with pytest.raises(KeyError, match='Did you mean: "SearchableMnistNet"'):
        MODELS.build(dict(type='SearchableMnistNett'))
