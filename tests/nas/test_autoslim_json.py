"""AutoSlim's slimmable subnets from MMRazor's channel-unit JSON on mmcls's MobileNetV2 1.5x:
MMRazor's own file (from the mirror when present) and a file generated here both load; every
deploy index gives a subnet with the file's channel counts whose forward runs."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from torch import nn

from razor_ext.pruning import SlimmableChannelMutator
from razor_ext.registry import MODELS
from tests.mmrazor_source import mmrazor_text

# unit name -> (first module, full channels), as MMRazor names them on MobileNetV2 1.5x
MODEL_CFG = dict(_scope_='mmcls', type='ImageClassifier',
                 backbone=dict(type='MobileNetV2', widen_factor=1.5),
                 neck=dict(type='GlobalAveragePooling'),
                 head=dict(type='LinearClsHead', num_classes=10, in_channels=1920,
                           loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
PARSE_CFG = dict(type='ChannelAnalyzer', demo_input=(1, 3, 32, 32), tracer_type='BackwardTracer')


def mmrazor_json(tmp_path: Path) -> Path:
    path = tmp_path / 'MBV2_slimmable_config.json'
    path.write_text(mmrazor_text('tests/data/MBV2_slimmable_config.json'))
    return path


def generated_json(tmp_path: Path, num_subnets: int = 3) -> Path:
    """A channel-unit file in MMRazor's format for our model: the units found by the channel
    analysis, with ``num_subnets`` random widths each (the last subnet the full model)."""
    mutator = SlimmableChannelMutator(parse_cfg=PARSE_CFG)
    mutator.prepare_from_supernet(MODELS.build(MODEL_CFG))
    rng = random.Random(0)
    units = {}
    for unit in mutator.units:
        n = unit.num_channels
        widths = sorted(rng.randint(max(1, n // 4), n) for _ in range(num_subnets - 1)) + [n]
        units[unit.name] = {'init_args': {'num_channels': n, 'divisor': 1, 'min_value': 1,
                                          'min_ratio': 0.9, 'candidate_choices': widths,
                                          'choice_mode': 'number'},
                            'choice': widths[-1]}
    path = tmp_path / 'generated_slimmable.json'
    path.write_text(json.dumps(units, indent=4))
    return path


def out_channels_of_units(model: nn.Module, units: dict) -> dict[str, int]:
    """The out channels of each unit's first module in ``model``."""
    result = {}
    for name in units:
        module = name.rsplit('_(', 1)[0]
        result[name] = model.get_submodule(module).out_channels
    return result


@pytest.mark.parametrize('source', ['mmrazor', 'generated'])
def test_every_deploy_index_gives_the_files_channels(source, tmp_path):
    path = mmrazor_json(tmp_path) if source == 'mmrazor' else generated_json(tmp_path)
    units = json.loads(path.read_text())
    torch.manual_seed(0)
    supernet = MODELS.build(MODEL_CFG).eval()
    mutator = MODELS.build(dict(type='mmrazor.SlimmableChannelMutator',
                                channel_unit_cfg=dict(type='SlimmableChannelUnit', units=str(path)),
                                parse_cfg=PARSE_CFG))
    mutator.prepare_from_supernet(supernet)
    assert len(mutator.units) == len(units) == 25
    assert len(mutator.subnets) == 3
    # the file's `choice` entries are the mutator's current choices after loading
    assert mutator.current_choices == {k: v['choice'] for k, v in units.items()}
    x = torch.randn(2, 3, 32, 32)
    for index, subnet in enumerate(mutator.subnets):
        assert subnet == {k: v['init_args']['candidate_choices'][index] for k, v in units.items()}
        static = mutator.deploy(index)
        assert out_channels_of_units(static, units) == subnet
        with torch.no_grad():
            out = static.eval()(x)
        assert out.shape == (2, 10) and torch.isfinite(out).all()
        if source == 'generated':  # (once: each forward of a new width is slow on a busy CPU)
            with torch.no_grad():
                mutator.set_choices(subnet)
                masked = supernet(x)  # the masked supernet computes the same subnet
            torch.testing.assert_close(out, masked, rtol=1e-4, atol=1e-4)
    if source == 'mmrazor':
        return
    # deploy_index on the mutator: that subnet is set when the supernet is prepared
    deployed = SlimmableChannelMutator(dict(type='SlimmableChannelUnit', units=str(path)),
                                       PARSE_CFG, deploy_index=0)
    deployed.prepare_from_supernet(MODELS.build(MODEL_CFG))
    assert deployed.current_choices == mutator.subnets[0]
    assert out_channels_of_units(deployed.to_static(), units) == mutator.subnets[0]


def test_subnets_keep_leading_channels(tmp_path):
    """Slimmable weight sharing: a width-k subnet uses the first k filters of the supernet."""
    path = generated_json(tmp_path)
    supernet = MODELS.build(MODEL_CFG)
    mutator = SlimmableChannelMutator(dict(type='SlimmableChannelUnit', units=str(path)), PARSE_CFG)
    mutator.prepare_from_supernet(supernet)
    name = 'backbone.conv1.conv_(0, 48)_48'
    k = mutator.subnets[0][name]
    static = mutator.deploy(0)
    full = supernet.backbone.conv1.conv.parametrizations.weight.original
    torch.testing.assert_close(static.backbone.conv1.conv.weight, full[:k].detach())


def test_bad_channel_unit_files_are_errors_naming_the_problem(tmp_path):
    units = json.loads(generated_json(tmp_path).read_text())
    first = next(iter(units))
    bad = dict(units)
    bad['backbone.nope.conv_(0, 8)_8'] = units[first]
    mutator = SlimmableChannelMutator(dict(type='SlimmableChannelUnit', units=bad), PARSE_CFG)
    with pytest.raises(KeyError, match=r'backbone\.nope\.conv'):
        mutator.prepare_from_supernet(MODELS.build(MODEL_CFG))
    uneven = json.loads(json.dumps(units))
    uneven[first]['init_args']['candidate_choices'] = [8]
    with pytest.raises(ValueError, match='same number of candidate_choices'):
        SlimmableChannelMutator(dict(type='SlimmableChannelUnit', units=uneven), PARSE_CFG)
    too_wide = json.loads(json.dumps(units))
    too_wide[first]['init_args']['candidate_choices'][0] = 4096
    too_wide[first]['choice'] = 8
    mutator = SlimmableChannelMutator(dict(type='SlimmableChannelUnit', units=too_wide), PARSE_CFG)
    with pytest.raises(ValueError, match='4096'):
        mutator.prepare_from_supernet(MODELS.build(MODEL_CFG))
    with pytest.raises(FileNotFoundError, match='missing.json'):
        SlimmableChannelMutator(dict(type='SlimmableChannelUnit', units=str(tmp_path / 'missing.json')))
    with pytest.raises(ValueError, match='deploy_index'):
        SlimmableChannelMutator(dict(type='SlimmableChannelUnit', units=units), PARSE_CFG,
                                deploy_index=3)


def test_autoslim_sandwich_trains_the_files_subnets(tmp_path):
    """AutoSlim's sandwich rule over the JSON's subnets: max (on labels), min and a random one
    (distilled from max) per step; every visited width is one of the file's subnets."""
    path = generated_json(tmp_path)
    torch.manual_seed(0)
    random.seed(0)
    algo = MODELS.build(dict(
        type='mmrazor.AutoSlim', architecture=MODEL_CFG, num_random_samples=1,
        mutator=dict(type='SlimmableChannelMutator', parse_cfg=PARSE_CFG,
                     channel_unit_cfg=dict(type='SlimmableChannelUnit', units=str(path)))))
    mutator = algo.mutator
    seen = []
    original = mutator.set_choices

    def recording(choices, *args, **kwargs):
        seen.append(dict(choices))
        return original(choices, *args, **kwargs)

    mutator.set_choices = recording
    opt = torch.optim.SGD(algo.parameters(), lr=0.01)
    log = algo.train_step((torch.randn(2, 3, 32, 32), torch.tensor([1, 7])), opt)
    assert set(log) >= {'max_subnet.loss', 'min_subnet.loss_kd', 'random0_subnet.loss_kd'}
    assert seen[0] == mutator.subnets[-1] == mutator.max_choices  # the file's widest subnet
    assert seen[1] == mutator.min_choices == mutator.subnets[0]
    assert all(s in mutator.subnets for s in seen)
