"""``mutator_sub_model`` (MMRazor's ``sub_model(mode='mutator')``): a model pruned to the unit
choices of a channel-mutator file, as DMCP and DCFF write them."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from razor_ext.registry import MODELS

PARSE = dict(type='ChannelAnalyzer', demo_input=[1, 3, 8, 8])


def net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 6, 3),
                         nn.ReLU(), nn.Conv2d(6, 2, 1))


def mutator_file(tmp_path, unit_type: str, choices: dict) -> str:
    cfg = dict(type='DMCPChannelMutator', parse_cfg=PARSE, channel_unit_cfg=dict(
        type=unit_type, default_args=dict(choice_mode='number'),
        units={k: dict(init_args=dict(num_channels=8, choice_mode='number'), choice=v)
               for k, v in choices.items()}))
    path = tmp_path / 'subnet.json'
    path.write_text(json.dumps(cfg))
    return str(path)


def test_sequential_units_keep_their_first_channels(tmp_path):
    model = net()
    small = MODELS.build(dict(type='mutator_sub_model', cfg=model, mode='mutator',
                              fix_subnet=mutator_file(tmp_path, 'DMCPChannelUnit',
                                                      {'0_(0, 8)_8': 5, '3_(0, 6)_6': 2})))
    assert (small[0].out_channels, small[3].in_channels, small[3].out_channels) == (5, 5, 2)
    torch.testing.assert_close(small[3].weight, model[3].weight[:2, :5])


def test_l1_units_keep_the_largest_channels(tmp_path):
    model = net()
    with torch.no_grad():
        model[0].weight[6].mul_(100)
    small = MODELS.build(dict(type='mutator_sub_model', cfg=model, fix_subnet=mutator_file(
        tmp_path, 'L1MutableChannelUnit', {'0_(0, 8)_8': 1})))
    torch.testing.assert_close(small[0].weight, model[0].weight[6:7])


def test_a_count_above_the_unit_keeps_all_and_bad_files_are_named(tmp_path):
    with pytest.warns(UserWarning, match='unit 0_\\(0, 8\\)_8 has 8 channels, 9 asked'):
        small = MODELS.build(dict(type='mutator_sub_model', cfg=net(), fix_subnet=mutator_file(
            tmp_path, 'DMCPChannelUnit', {'0_(0, 8)_8': 9})))
    assert small[0].out_channels == 8
    with pytest.raises(ValueError, match='channel_unit_cfg'):
        MODELS.build(dict(type='mutator_sub_model', cfg=net(), fix_subnet={'a_(0, 8)_8': 3}))
    with pytest.raises(FileNotFoundError, match='nowhere.json'):
        MODELS.build(dict(type='mutator_sub_model', cfg=net(), fix_subnet=str(tmp_path / 'nowhere.json')))
