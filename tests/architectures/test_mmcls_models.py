"""The mmcls architectures MMRazor's configs build: published parameter counts, mmcls's parameter
names and output structure, and the scoped (``mmcls.X``, ``_scope_``) and bare names."""
from __future__ import annotations

import pytest
import torch

from razor_ext.registry import MODELS


def classifier(backbone: dict, in_channels: int, num_classes: int = 1000, head: str = 'LinearClsHead',
               neck: dict | None = {'type': 'GlobalAveragePooling'}) -> torch.nn.Module:
    return MODELS.build(dict(type='mmcls.ImageClassifier', backbone=backbone, neck=neck,
                             head=dict(type=head, num_classes=num_classes, in_channels=in_channels)))


def millions(model: torch.nn.Module) -> float:
    return round(sum(p.numel() for p in model.parameters()) / 1e6, 2)


# (backbone, head in_channels, classes, published parameters in millions: mmcls's model zoo,
#  DeiT's and WRN's papers)
PUBLISHED = [
    (dict(type='mmcls.ResNet', depth=18), 512, 1000, 11.69),
    (dict(type='mmcls.ResNet', depth=34), 512, 1000, 21.80),
    (dict(type='mmcls.ResNet', depth=50), 2048, 1000, 25.56),
    (dict(type='ResNet_CIFAR', depth=18), 512, 10, 11.17),
    (dict(type='mmcls.ResNet_CIFAR', depth=34), 512, 10, 21.28),
    (dict(type='ResNet_CIFAR', depth=50), 2048, 10, 23.52),
    (dict(type='mmcls.MobileNetV2', widen_factor=1.0), 1280, 1000, 3.50),
    (dict(type='mmcls.ShuffleNetV2', widen_factor=1.0), 1024, 1000, 2.28),
    (dict(type='WideResNet', depth=40, widen_factor=2), 128, 10, 2.24),   # paper: 2.2M
    (dict(type='mmrazor.WideResNet', depth=16, widen_factor=2), 128, 10, 0.69),
]


@pytest.mark.parametrize('backbone, in_channels, classes, published', PUBLISHED,
                         ids=lambda v: v['type'] + str(v.get('depth', v.get('widen_factor', '')))
                         if isinstance(v, dict) else None)
def test_parameter_count_matches_the_published_figure(backbone, in_channels, classes, published):
    assert millions(classifier(backbone, in_channels, classes)) == pytest.approx(published, abs=0.005)


def test_deit_base_parameter_count_and_token_outputs():
    model = classifier(dict(type='VisionTransformer', arch='deit-base'), 768,
                       head='VisionTransformerClsHead', neck=None)
    assert millions(model) == 86.57  # DeiT-B, Touvron et al. 2021
    assert 'backbone.layers.11.ffn.layers.0.0.weight' in model.state_dict()
    assert {'backbone.cls_token', 'backbone.pos_embed', 'backbone.ln1.weight',
            'head.layers.head.weight', 'backbone.patch_embed.projection.weight'} <= set(model.state_dict())


def test_distilled_vit_with_deit_head_records_the_distillation_head():
    model = classifier(dict(type='DistilledVisionTransformer', arch='deit-tiny', img_size=32), 192,
                       num_classes=7, head='mmrazor.DeiTClsHead', neck=None)
    seen = []
    model.head.layers.head_dist.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    x = torch.randn(2, 3, 32, 32)
    assert model(x).shape == (2, 7) and seen == [torch.Size([2, 7])]
    patch, cls, dist = model.backbone(x)[-1]
    assert patch.shape == (2, 192, 2, 2) and cls.shape == dist.shape == (2, 192)
    # the position embedding is interpolated for other input sizes, as mmcls does
    assert model(torch.randn(1, 3, 48, 48)).shape == (1, 7)


def test_resnet_uses_mmcls_names_and_returns_a_tuple_of_stage_outputs():
    net = MODELS.build(dict(type='mmcls.ResNet', depth=50, out_indices=(0, 1, 2, 3)))
    keys = set(net.state_dict())
    assert {'conv1.weight', 'bn1.weight', 'layer1.0.conv3.weight', 'layer1.0.downsample.0.weight',
            'layer1.0.downsample.1.weight', 'layer4.2.bn3.weight'} <= keys
    outs = net(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 256, 16, 16), (1, 512, 8, 8), (1, 1024, 4, 4),
                                              (1, 2048, 2, 2)]
    cifar = MODELS.build(dict(type='ResNet_CIFAR', depth=18))
    assert cifar.conv1.kernel_size == (3, 3) and not hasattr(cifar, 'maxpool')
    assert cifar(torch.randn(1, 3, 32, 32))[0].shape == (1, 512, 4, 4)


def test_shufflenet_and_wideresnet_module_paths():
    shuffle = MODELS.build(dict(type='ShuffleNetV2'))
    assert {'conv1.conv.weight', 'layers.0.0.branch1.0.conv.weight', 'layers.2.3.branch2.2.bn.weight',
            'layers.3.conv.weight'} <= set(shuffle.state_dict())
    wrn = MODELS.build(dict(type='WideResNet', depth=16, widen_factor=2))
    assert {'conv1.weight', 'layer1.0.bn1.weight', 'layer1.0.downsample.weight', 'bn1.weight'} <= set(wrn.state_dict())


def test_bare_resnet_inside_an_mmcls_scope_is_mmcls_resnet():
    # MMRazor writes dict(_scope_='mmcls', type='ImageClassifier', backbone=dict(type='ResNet', depth=18));
    # outside the scope, bare 'ResNet' stays razor_ext's own (depths=...) model.
    model = MODELS.build(dict(_scope_='mmcls', type='ImageClassifier',
                              backbone=dict(type='ResNet', depth=18),
                              neck=dict(type='GlobalAveragePooling'),
                              head=dict(type='LinearClsHead', num_classes=10, in_channels=512)))
    assert type(model.backbone).__module__.endswith('mmcls_resnet')
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert not type(MODELS.build(dict(type='ResNet', depths=(1, 1, 1, 1)))).__module__.endswith('mmcls_resnet')


@pytest.mark.parametrize('cfg, match', [
    (dict(type='mmcls.ResNet', depth=19), 'invalid depth 19'),
    (dict(type='ShuffleNetV2', widen_factor=0.7), 'widen_factor'),
    (dict(type='VisionTransformer', arch='huge-x'), 'arch'),
    (dict(type='WideResNet', depth=17), 'invalid depth 17'),
])
def test_bad_arguments_are_named(cfg, match):
    with pytest.raises((KeyError, ValueError), match=match):
        MODELS.build(cfg)
