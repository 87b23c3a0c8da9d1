"""``ResourceEstimator(counter='mmrazor')`` against MMRazor's published FLOPs of the BigNAS
(AttentiveNAS) and AutoSlim subnets (multiply-adds, as MMRazor's tables count them)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from razor_ext import Config
from razor_ext.estimators import ResourceEstimator
from razor_ext.registry import MODELS
from razor_ext.supernet.fix_subnet import load_fix_subnet
from tests.mmrazor_source import mmrazor_text

ROOT = Path(__file__).resolve().parents[2]
SPACE = Config.fromfile(str(ROOT / 'configs/_base_/nas_backbones/attentive_mobilenetv3_supernet.py'))
# AttentiveNAS-A6 (MMRazor's configs/nas/mmcls/bignas/ATTENTIVE_SUBNET_A6.yaml, published with
# 927 MFLOPs and 15.594 M params): per stage (kernel, expand ratio, depth, width)
A6_STAGES = [(3, 1, 1, 24), (3, 4, 3, 32), (3, 6, 3, 40), (3, 5, 4, 72), (3, 4, 4, 128),
             (5, 6, 6, 216), (3, 6, 1, 224)]


def _bignas_classifier() -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='SearchableImageClassifier', backbone=dict(SPACE.nas_backbone),
        neck=dict(type='SqueezeMeanPoolingWithDropout', drop_ratio=0.2),
        head=dict(type='DynamicLinearClsHead', num_classes=1000, in_channels=1984),
        input_resizer_cfg=dict(input_sizes=[[192, 192], [224, 224], [256, 256], [288, 288]]),
        connect_head=dict(connect_with_backbone='backbone.last_mutable_channels'))).eval()


def _mflops(model: torch.nn.Module, size: list[int]) -> dict[str, float]:
    return ResourceEstimator(input_shape=(1, 3, *size), counter='mmrazor').estimate(model)


def test_attentivenas_a6_counts_as_mmrazor_publishes():
    subnet = {f'backbone.layers.{i}.{k}': {'chosen': v}
              for i, stage in enumerate(A6_STAGES, 1)
              for k, v in zip(('kernel_size', 'expand_ratio', 'depth', 'out_channels'), stage)}
    subnet.update({'backbone.first_channels': {'chosen': 16},
                   'backbone.last_channels': {'chosen': 1984},
                   'input_shape': {'chosen': [288, 288]}})
    model = load_fix_subnet(_bignas_classifier(), subnet)
    assert model.input_resizer.size == [288, 288]
    cost = _mflops(model, [288, 288])
    assert round(cost['flops']) == 927 and round(cost['params'], 3) == 15.594


@pytest.mark.parametrize('name,mflops', [('A0', 212), ('A6', 927)])
def test_mmrazor_bignas_subnet_files_match_published_flops(tmp_path, name, mflops):
    text = mmrazor_text(f'configs/nas/mmcls/bignas/ATTENTIVE_SUBNET_{name}.yaml')
    subnet = yaml.safe_load(text)
    model = load_fix_subnet(_bignas_classifier(), subnet)
    assert round(_mflops(model, subnet['input_shape']['chosen'])['flops']) == mflops


# MMRazor's AutoSlim table (configs/nas/mmcls/autoslim/README.md): deploy index -> (GFLOPs, M params)
AUTOSLIM = {0: (0.22, 4.13), 1: (0.32, 5.77), 2: (0.53, 6.5)}


@pytest.mark.parametrize('index', sorted(AUTOSLIM))
def test_mmrazor_autoslim_subnets_match_published_flops(tmp_path, index):
    units = tmp_path / 'MBV2_slimmable_config.json'
    units.write_text(json.dumps(json.loads(mmrazor_text('tests/data/MBV2_slimmable_config.json'))))
    algo = MODELS.build(dict(
        type='mmrazor.SlimmableNetwork', deploy_index=index,
        architecture=dict(_scope_='mmcls', type='ImageClassifier',
                          backbone=dict(type='MobileNetV2', widen_factor=1.5),
                          neck=dict(type='GlobalAveragePooling'),
                          head=dict(type='LinearClsHead', num_classes=1000, in_channels=1920)),
        mutator=dict(type='SlimmableChannelMutator',
                     channel_unit_cfg=dict(type='SlimmableChannelUnit', units=str(units)),
                     parse_cfg=dict(type='ChannelAnalyzer', demo_input=(1, 3, 224, 224)))))
    cost = _mflops(algo.architecture.eval(), [224, 224])
    gflops, params = AUTOSLIM[index]
    assert round(cost['flops'] / 1000, 2) == gflops and round(cost['params'], 2) == params
