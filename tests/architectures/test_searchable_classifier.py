"""MMRazor's BigNAS / OFA classifier parts: SearchableImageClassifier (connect_head, input
resizer), DynamicLinearClsHead, SqueezeMeanPoolingWithDropout, and AttentiveMobileNetV3's OFA
mode (fine-grained mutables, identity residual, OFAConv2d)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from razor_ext.architectures.backbones.attentive_mobilenet_v3 import AttentiveMBBlock, drop_path
from razor_ext.architectures.heads import DynamicLinearClsHead
from razor_ext.architectures.necks import SqueezeMeanPoolingWithDropout
from razor_ext.nas import NasMutator
from razor_ext.registry import MODELS
from razor_ext.supernet.dynamic_ops import InputResizer, OFAConv2d
from razor_ext.supernet.fix_subnet import load_fix_subnet
from razor_ext.supernet.mutables import OneShotMutableChannel

# a 3-stage OFA-style space (MMRazor's [min, max, step] rows), small enough for CI
OFA_SPACE = dict(kernel_size=[[3, 3, 1], [3, 7, 2], [3, 5, 2]],
                 num_blocks=[[1, 1, 1], [1, 2, 1], [1, 2, 1]],
                 expand_ratio=[[1, 1, 1], [3, 6, 3], [3, 6, 3], [6, 6, 1]],
                 num_out_channels=[[8, 8, 8], [8, 8, 8], [8, 16, 8], [16, 24, 8], [32, 64, 32]])
OFA_BACKBONE = dict(type='mmrazor.AttentiveMobileNetV3', arch_setting=OFA_SPACE, out_indices=(3,),
                    stride_list=[1, 2, 2], with_se_list=[False, False, True],
                    act_cfg_list=['HSwish', 'ReLU', 'ReLU', 'HSwish', 'HSwish'],
                    conv_cfg=dict(type='OFAConv2d'), norm_cfg=dict(type='mmrazor.DynamicBatchNorm2d'),
                    fine_grained_mode=True, with_attentive_shortcut=False)


def _classifier(**kw):
    torch.manual_seed(0)
    cfg = dict(type='mmrazor.SearchableImageClassifier', backbone=OFA_BACKBONE,
               neck=dict(type='SqueezeMeanPoolingWithDropout', drop_ratio=0.2),
               head=dict(type='DynamicLinearClsHead', num_classes=5, in_channels=64),
               connect_head=dict(connect_with_backbone='backbone.last_mutable_channels'))
    return MODELS.build({**cfg, **kw})


def test_squeeze_mean_neck_means_spatial_dims_and_drops_only_in_training():
    x = torch.randn(4, 6, 3, 5)
    neck = SqueezeMeanPoolingWithDropout(drop_ratio=0.5)
    torch.testing.assert_close(neck.eval()(x), x.mean((2, 3)))
    out = neck.eval()((x, x[:, :2]))
    assert isinstance(out, tuple) and out[1].shape == (4, 2)
    torch.manual_seed(0)
    trained = neck.train()(torch.ones(64, 32, 2, 2))
    assert set(trained.unique().tolist()) == {0.0, 2.0}  # dropout p=0.5 rescales kept units by 2
    with pytest.raises(TypeError, match='tensor or a tuple'):
        neck([x])
    with pytest.raises(ValueError, match='drop_ratio'):
        SqueezeMeanPoolingWithDropout(1.5)


def test_dynamic_linear_head_follows_the_backbone_width_and_slices_when_fixed():
    head = DynamicLinearClsHead(num_classes=3, in_channels=8)
    width = OneShotMutableChannel(8, [4, 8], alias='w')
    head.connect_with_backbone(width)
    width.current_choice = 4
    feats = torch.randn(2, 4)
    want = feats @ head.fc.weight[:, :4].T + head.fc.bias
    torch.testing.assert_close(head((feats,)), want)
    loss = head.loss((feats,), torch.tensor([0, 2]))['loss']
    torch.testing.assert_close(loss, nn.functional.cross_entropy(want, torch.tensor([0, 2])))
    holder = nn.Module()
    holder.head, holder.width = head, width
    static = load_fix_subnet(holder, {'w': {'chosen': 4}})
    assert type(static.head.fc) is nn.Linear and static.head.fc.weight.shape == (3, 4)
    torch.testing.assert_close(static.head((feats,)), want)


def test_searchable_classifier_connects_head_and_resizes_input_to_the_chosen_shape():
    net = _classifier(input_resizer_cfg=dict(input_sizes=[[32, 32], [48, 48]])).eval()
    assert net.head.fc.get_mutable_attr('in_features') is net.backbone.last_mutable_channels
    seen = []
    net.backbone.register_forward_pre_hook(lambda m, a: seen.append(tuple(a[0].shape[-2:])))
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    assert 'input_shape' in mutator.search_groups
    mutator.set_choices(mutator.min_choices)
    out = net(torch.randn(2, 3, 40, 40))
    assert out.shape == (2, 5) and seen[-1] == (32, 32)
    mutator.set_choices(mutator.max_choices)
    net(torch.randn(2, 3, 40, 40))
    assert seen[-1] == (48, 48)
    with pytest.raises(ValueError, match='connect_head'):
        _classifier(connect_head=dict(connect_with_backbone='backbone.no_such_mutable'))
    with pytest.raises(ValueError, match='input_sizes'):
        _classifier(input_resizer_cfg=dict(input_sizes=[32, 32]))


def test_ofa_mode_has_per_block_mutables_identity_residuals_and_a_static_subnet():
    net = _classifier(input_resizer_cfg=dict(input_sizes=[[32, 32], [40, 40]])).eval()
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    groups = set(mutator.search_groups)
    # fine-grained: kernel and expand ratio per block; SE stages (stage 3 here) get MMRazor's
    # separate ``expand_ratio_se``
    assert {'backbone.layers.2.0.kernel_size', 'backbone.layers.2.1.kernel_size',
            'backbone.layers.3.1.expand_ratio', 'backbone.layers.3.1.expand_ratio_se'} <= groups
    assert not any(g.startswith('backbone.layers.2.') and g.endswith('_se') for g in groups)
    assert 'backbone.layers.2.kernel_size' not in groups
    blocks = [m for m in net.modules() if isinstance(m, AttentiveMBBlock)]
    assert all(b.shortcut is None for b in blocks)
    # the identity residual only where stride and width are kept (MMRazor's with_res_shortcut)
    assert [b.with_res_shortcut for b in blocks] == [True, False, True, False, True]
    assert isinstance(net.backbone.layer2[0].depthwise_conv.conv, OFAConv2d)
    choices = dict(mutator.min_choices)
    choices['backbone.layers.3.1.expand_ratio_se'] = 6  # SE squeeze from its own ratio
    mutator.set_choices(choices)
    x = torch.randn(2, 3, 36, 36)
    want = net(x)
    se = net.backbone.layer3[1].se
    assert se.conv1.conv.get_mutable_attr('out_channels').current_choice == 24  # 16 * 6 // 4
    subnet = {k: {'chosen': v} for k, v in choices.items()}
    subnet['backbone.layers.2.0.expand_ratio_se'] = {'chosen': 3}  # an entry naming no mutable
    with pytest.warns(UserWarning, match='expand_ratio_se'):
        static = load_fix_subnet(net, subnet, strict=False)
    assert isinstance(static.input_resizer, InputResizer) and static.input_resizer.size == [32, 32]
    torch.testing.assert_close(static(x), want)


def test_drop_path_zeroes_whole_samples_and_rescales():
    torch.manual_seed(0)
    x = torch.ones(1000, 3, 2, 2)
    out = drop_path(x, 0.25, training=True)
    per_sample = out.flatten(1)
    assert per_sample.unique().tolist() == pytest.approx([0.0, 1 / 0.75])
    assert ((per_sample == per_sample[:, :1]).all(1)).all()  # whole samples kept or dropped
    assert (per_sample == 0).all(1).float().mean().item() == pytest.approx(0.25, abs=0.05)
    assert torch.equal(drop_path(x, 0.25, training=False), x)
