"""``ResourceEstimator(counter='mmrazor')`` counts multiply-adds as MMRazor's estimator does."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from razor_ext.estimators import ResourceEstimator

MMRAZOR_ROOT = os.environ.get('MMRAZOR_ROOT')


def test_counts_norms_activations_and_pooling_as_mmrazor():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, groups=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
    # conv 27*8*36 + bias 8*36; BN 2*288; ReLU 288; maxpool 288; depthwise 9*1*8*9; gap 72; fc 8*5
    expected = 7776 + 288 + 576 + 288 + 288 + 648 + 72 + 40
    est = ResourceEstimator(input_shape=(1, 3, 6, 6), units=None, counter='mmrazor')
    out = est.estimate(net.train())
    assert out == {'flops': expected, 'params': sum(p.numel() for p in net.parameters())}
    assert net.training  # the model's mode is restored
    default = ResourceEstimator(input_shape=(1, 3, 6, 6), units=None).estimate(net)['flops']
    assert default != expected  # the default counts FLOPs (2 per multiply-add), convs and linears


def test_bad_counter_is_named():
    with pytest.raises(ValueError, match='counter'):
        ResourceEstimator(counter='fvcore')


@pytest.mark.skipif(not MMRAZOR_ROOT, reason='MMRAZOR_ROOT is not set to a checkout of MMRazor')
def test_spos_subnet_matches_mmrazor_published_flops(monkeypatch):
    from razor_ext.config import Config
    from razor_ext.registry import MODELS

    root = Path(MMRAZOR_ROOT)
    monkeypatch.chdir(root)
    backbone = Config.fromfile('configs/_base_/nas_backbones/spos_shufflenet_supernet.py').nas_backbone
    cfg = dict(type='mmcls.ImageClassifier', backbone=backbone,
               neck=dict(type='mmcls.GlobalAveragePooling'),
               head=dict(type='mmcls.LinearClsHead', num_classes=1000, in_channels=1024))
    model = MODELS.build(dict(_scope_='mmrazor', type='sub_model', cfg=cfg,
                              fix_subnet='configs/nas/mmcls/spos/SPOS_SUBNET.yaml'))
    flops = ResourceEstimator(input_shape=(1, 3, 224, 224), counter='mmrazor').estimate(model)['flops']
    assert round(flops, 3) == 327.544  # MMRazor's README for SPOS_SUBNET.yaml
