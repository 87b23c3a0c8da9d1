"""MMRazor / mmcls search-space backbones: structure, parameter counts, static subnets equal to
the supernet, YAML round trips, ONNX, and SPOS training under BaseAlgorithm."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from torch import nn

from razor_ext import Config
from razor_ext.export import to_onnx
from razor_ext.architectures import (ImageClassifier, MobileNetV2, SearchableMobileNetV2,
                                     SearchableShuffleNetV2)
from razor_ext.architectures.backbones import make_divisible
from razor_ext.architectures.ops import (ConvModule, Identity, MBBlock, ShuffleBlock,
                                         ShuffleXception, channel_shuffle)
from razor_ext.supernet.mutables import OneShotMutableOP
from razor_ext.nas import NasMutator
from razor_ext.registry import MODELS
from razor_ext.supernet.fix_subnet import export_fix_subnet, load_fix_subnet

CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / 'nas' / 'spos'

SHUFFLE = dict(type='OneShotMutableOP', candidates=dict(
    shuffle_3x3=dict(type='ShuffleBlock', kernel_size=3),
    shuffle_5x5=dict(type='ShuffleBlock', kernel_size=5),
    shuffle_7x7=dict(type='ShuffleBlock', kernel_size=7),
    shuffle_xception=dict(type='ShuffleXception')))
MB = dict(type='OneShotMutableOP', candidates=dict(
    mb_k3e3=dict(type='MBBlock', kernel_size=3, expand_ratio=3, act_cfg=dict(type='ReLU6')),
    mb_k7e6=dict(type='MBBlock', kernel_size=7, expand_ratio=6, act_cfg=dict(type='ReLU6')),
    identity=dict(type='Identity')))


def tiny_shufflenet(num_classes: int = 5) -> ImageClassifier:
    """The SPOS ShuffleNetV2 supernet at small widths (two stages of two blocks)."""
    return MODELS.build(dict(
        type='mmcls.ImageClassifier',
        backbone=dict(type='mmrazor.SearchableShuffleNetV2',
                      arch_setting=[[16, 2, SHUFFLE], [32, 2, SHUFFLE]], out_indices=(2,)),
        neck=dict(type='mmcls.GlobalAveragePooling'),
        head=dict(type='mmcls.LinearClsHead', num_classes=num_classes, in_channels=1024,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0))))


def tiny_mobilenet(num_classes: int = 5) -> ImageClassifier:
    return MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='SearchableMobileNetV2', first_channels=16, last_channels=64,
                      arch_setting=[[16, 1, 1, MB], [24, 2, 2, MB], [32, 2, 2, MB]],
                      out_indices=(3,)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=64)))


def randomize_bn(model: nn.Module) -> None:
    """Non-trivial BN statistics, so that eval-mode outputs depend on every layer."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


def test_spos_shufflenet_supernet_has_mmrazor_parameter_count():
    """MMRazor's SPOS ShuffleNetV2 supernet with the 1000-class head: 8,488,600 parameters."""
    cfg = Config.fromfile(str(CONFIGS / 'spos_shufflenet_supernet_8xb128_in1k.py'))
    model = MODELS.build(cfg.supernet)
    assert sum(p.numel() for p in model.parameters()) == 8_488_600
    names = dict(model.named_modules())
    assert isinstance(names['backbone.layers.0.0'], OneShotMutableOP)
    assert isinstance(names['backbone.layers.2.7._candidates.shuffle_xception'], ShuffleXception)
    assert isinstance(names['backbone.layers.4'], ConvModule)  # the last 1x1 conv to 1024
    assert 'backbone.layers.0.0._candidates.shuffle_7x7.branch2.1.conv' in names
    assert names['backbone.layers.0.0._candidates.shuffle_7x7.branch2.1.conv'].kernel_size == (7, 7)
    assert len([m for m in model.modules() if isinstance(m, OneShotMutableOP)]) == 20


def test_mmcls_mobilenet_v2_names_and_parameter_count():
    """mmcls's MobileNetV2 1.0x with 1000 classes: 3,504,872 parameters (the published count);
    1.5x has AutoSlim's channel counts under mmcls's module names."""
    model = ImageClassifier(MobileNetV2(), MODELS.build(dict(type='GlobalAveragePooling')),
                            MODELS.build(dict(type='LinearClsHead', num_classes=1000,
                                              in_channels=1280)))
    assert sum(p.numel() for p in model.parameters()) == 3_504_872
    wide = MobileNetV2(widen_factor=1.5)
    names = dict(wide.named_modules())
    expected = {'conv1.conv': 48, 'layer1.0.conv.1.conv': 24, 'layer2.0.conv.0.conv': 144,
                'layer2.0.conv.2.conv': 40, 'layer4.0.conv.2.conv': 96,
                'layer7.0.conv.0.conv': 1440, 'layer7.0.conv.2.conv': 480, 'conv2.conv': 1920}
    assert {k: names[k].out_channels for k in expected} == expected
    assert names['layer1.0.conv.0.conv'].groups == 48  # expand ratio 1: depthwise first
    assert (make_divisible(36, 8), make_divisible(10, 8), make_divisible(3, 8)) == (40, 16, 8)


def test_blocks_check_their_arguments_and_shuffle_channels():
    with pytest.raises(ValueError, match='kernel_size must be 3, 5 or 7'):
        ShuffleBlock(4, in_channels=8, out_channels=8)
    with pytest.raises(ValueError, match='in_channels \\(8\\) must equal out_channels \\(16\\)'):
        ShuffleXception(in_channels=8, out_channels=16, stride=1)
    with pytest.raises(ValueError, match='out_indices'):
        SearchableShuffleNetV2([[16, 1, SHUFFLE]], out_indices=(5,))
    with pytest.raises(ValueError, match='norm_cfg type'):
        ConvModule(3, 4, 1, norm_cfg=dict(type='LN2d'))
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    # stride-2 blocks halve the resolution, stride-1 blocks keep the input's first half as is
    block = ShuffleBlock(3, in_channels=8, out_channels=8).eval()
    y = torch.randn(2, 8, 6, 6)
    assert torch.equal(block(y)[:, 0::2], y[:, :4])
    assert MBBlock(5, 3, in_channels=8, out_channels=16, stride=2)(y).shape == (2, 16, 3, 3)
    assert torch.equal(Identity(in_channels=8, out_channels=8)(y), y)
    assert Identity(in_channels=8, out_channels=4, stride=2)(y).shape == (2, 4, 3, 3)


@pytest.mark.parametrize('build', [tiny_shufflenet, tiny_mobilenet])
def test_static_subnet_equals_supernet_and_reloads(build, tmp_path):
    """export_fix_subnet(slice_weight=True) and load_fix_subnet on a fresh supernet with the same
    weights give the supernet's outputs for sampled subnets; the YAML round trip keeps them."""
    torch.manual_seed(0)
    supernet = build().eval()
    with torch.no_grad():
        randomize_bn(supernet)
    mutator = NasMutator()
    mutator.prepare_from_supernet(supernet)
    x = torch.randn(2, 3, 32, 32)
    random.seed(3)
    for trial in range(3):
        mutator.set_choices(mutator.sample_choices())
        with torch.no_grad():
            expected = supernet(x)
        subnet, static = export_fix_subnet(supernet, slice_weight=True,
                                           path=tmp_path / f'subnet{trial}.yaml')
        assert not any(isinstance(m, OneShotMutableOP) for m in static.modules())
        with torch.no_grad():
            torch.testing.assert_close(static(x), expected, rtol=0, atol=0)
        fresh = build()
        fresh.load_state_dict(supernet.state_dict())
        load_fix_subnet(fresh, tmp_path / f'subnet{trial}.yaml')
        with torch.no_grad():
            torch.testing.assert_close(fresh.eval()(x), expected, rtol=0, atol=0)
        assert sum(p.numel() for p in fresh.parameters()) == sum(
            p.numel() for p in static.parameters()) < sum(p.numel() for p in supernet.parameters())
    # the subnet file names MMRazor's module paths and loads with only `chosen:` entries
    assert 'chosen' in subnet[next(iter(subnet))]
    load_fix_subnet(build(), {k: {'chosen': v['chosen']} for k, v in subnet.items()})


def test_subnet_naming_a_missing_module_is_an_error_naming_it():
    subnet, _ = export_fix_subnet(tiny_shufflenet())
    subnet['backbone.layers.7.3'] = {'chosen': 'shuffle_3x3'}
    with pytest.raises(KeyError, match=r"backbone\.layers\.7\.3"):
        load_fix_subnet(tiny_shufflenet(), subnet)
    subnet.pop('backbone.layers.7.3')
    subnet['backbone.layers.0.0'] = {'chosen': 'shuffle_9x9'}
    with pytest.raises(ValueError, match='shuffle_9x9'):
        load_fix_subnet(tiny_shufflenet(), subnet)


def test_static_subnet_exports_to_onnx_verified_in_onnxruntime(tmp_path):
    torch.manual_seed(0)
    supernet = tiny_shufflenet().eval()
    mutator = NasMutator()
    mutator.prepare_from_supernet(supernet)
    random.seed(5)
    mutator.set_choices(mutator.sample_choices())
    _, static = export_fix_subnet(supernet, slice_weight=True)
    path = to_onnx(static, torch.randn(2, 3, 32, 32), tmp_path / 'subnet.onnx', verify=True)
    assert path.stat().st_size > 0


def test_spos_trains_the_mmrazor_model_dict_under_base_algorithm():
    """MMRazor's SPOS model dict (scoped types, mmcls classifier) builds and trains; tensor /
    predict / loss modes follow BaseAlgorithm's contract."""
    torch.manual_seed(0)
    random.seed(0)
    algo = MODELS.build(dict(type='mmrazor.SPOS', architecture=tiny_shufflenet(num_classes=4),
                             mutator=dict(type='mmrazor.NasMutator')))
    x, y = torch.randn(2, 3, 32, 32), torch.tensor([0, 3])
    opt = torch.optim.SGD(algo.parameters(), lr=0.05)
    before = algo.architecture.head.fc.weight.detach().clone()
    choices = []
    for _ in range(2):
        log = algo.train_step((x, y), opt)
        choices.append(dict(algo.mutator.current_choices))
        assert set(log) == {'loss'} and torch.isfinite(torch.tensor(log['loss']))
    assert not torch.equal(before, algo.architecture.head.fc.weight)
    assert len({tuple(c.values()) for c in choices}) > 1  # a new path per step
    algo.eval()
    assert algo(x).shape == (2, 4)
    assert algo(x, mode='predict').shape == (2,)
    assert algo.val_step((x, y)).dtype == torch.int64
    with pytest.raises(RuntimeError, match='Invalid mode "bogus"'):
        algo(x, y, mode='bogus')


def test_mmcls_head_uses_the_label_loss_and_label_smoothing():
    head = MODELS.build(dict(type='mmcls.LinearClsHead', num_classes=3, in_channels=2,
                             loss=dict(type='CrossEntropyLoss', loss_weight=2.0), cal_acc=True,
                             topk=(1, 2)))
    feats = (torch.randn(4, 2),)
    target = torch.tensor([0, 1, 2, 0])
    losses = head.loss(feats, target)
    ce = nn.functional.cross_entropy(head(feats), target)
    torch.testing.assert_close(losses['loss'], 2.0 * ce)
    assert set(losses) == {'loss', 'accuracy_top-1', 'accuracy_top-2'}
    smooth = MODELS.build(dict(type='LabelSmoothLoss', label_smooth_val=0.1, num_classes=3))
    logits = torch.randn(4, 3)
    want = nn.functional.cross_entropy(logits, target, label_smoothing=0.1)
    torch.testing.assert_close(smooth(logits, target), want)


def test_classifier_preprocessor_converts_bgr_and_normalises():
    model = ImageClassifier(backbone=dict(type='MobileNetV2', widen_factor=0.35),
                            data_preprocessor=dict(mean=[1.0, 2.0, 3.0], std=[1.0, 1.0, 2.0],
                                                   to_rgb=True))
    img = torch.tensor([10.0, 20.0, 30.0]).view(1, 3, 1, 1)
    out = model.data_preprocessor({'inputs': img, 'data_samples': None})['inputs']
    assert out.flatten().tolist() == [29.0, 18.0, 3.5]


DOCTEST_MODULES = [
    'razor_ext.architectures.ops.conv_module',
    'razor_ext.architectures.ops.shufflenet_series',
    'razor_ext.architectures.ops.mobilenet_series',
    'razor_ext.architectures.backbones.stages',
    'razor_ext.architectures.backbones.searchable_shufflenet_v2',
    'razor_ext.architectures.backbones.searchable_mobilenet_v2',
    'razor_ext.architectures.necks.gap',
    'razor_ext.architectures.heads.linear_head',
    'razor_ext.architectures.classifiers.image',
    'razor_ext.distill.losses.cross_entropy_loss',
]


@pytest.mark.parametrize('name', DOCTEST_MODULES)
def test_docstring_examples(name):
    """The examples in the docstrings run and give what they show (MobileNetV2 1.5x's example is
    left to the AutoSlim tests: it is the slowest)."""
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
