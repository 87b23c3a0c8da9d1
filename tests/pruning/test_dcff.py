"""DCFF: the fusion matrix (against a loop reference), the temperature schedule, fused
convolutions in the masked model and in the static one, and the algorithm's step."""
from __future__ import annotations

import math

import torch

from razor_ext.pruning import DCFF, DCFFChannelMutator
from razor_ext.pruning.algorithms.dcff import dcff_temperature
from razor_ext.pruning.mutators.dcff_channel_mutator import pooled_channels
from razor_ext.registry import MODELS

PARSE = dict(type='ChannelAnalyzer', demo_input=(1, 3, 16, 16))


def reference_pooled(w: torch.Tensor, tau: float, keep: int) -> torch.Tensor:
    c = w.shape[0]
    flat = w.reshape(c, -1).double()
    dist = torch.tensor([[float((flat[i] - flat[j]).norm()) for j in range(c)] for i in range(c)],
                        dtype=torch.float64)
    p = torch.softmax(-dist / tau, dim=1)
    mean_log = [float(torch.log(p[j] + 1e-7).mean()) for j in range(c)]
    score = [sum(float(p[i, j] * math.log(p[i, j] + 1e-7) - p[i, j] * mean_log[j])
                 for j in range(c)) / c for i in range(c)]
    ids = sorted(sorted(range(c), key=lambda i: -score[i])[:keep])
    return p[ids]


def test_fusion_matrix_matches_a_loop_reference():
    torch.manual_seed(0)
    w = torch.randn(7, 2, 3, 3)
    for tau in (0.5, 2.0, 10.0):
        torch.testing.assert_close(pooled_channels(w, tau, 4).double(),
                                   reference_pooled(w, tau, 4), rtol=1e-4, atol=1e-5)
    # a cold temperature fuses each kept filter with itself only
    p = pooled_channels(w, 1e-4, 3)
    assert torch.equal(p, p.round()) and p.sum() == 3


def test_temperature_schedule():
    assert dcff_temperature(0, 100) == 1.0
    ts = [dcff_temperature(i, 100) for i in range(6)]
    assert all(a > b for a, b in zip(ts, ts[1:]))
    assert math.isclose(1 / dcff_temperature(60, 100), 10000, rel_tol=1e-6)
    assert math.isclose(dcff_temperature(3, None), dcff_temperature(3, 10 ** 6))


def resnet():
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='mmcls.ImageClassifier',
        backbone=dict(type='mmcls.ResNet_CIFAR', depth=18, num_stages=2, out_indices=(1,)),
        neck=dict(type='mmcls.GlobalAveragePooling'),
        head=dict(type='mmcls.LinearClsHead', num_classes=10, in_channels=128)))


def test_fused_convs_in_the_masked_model_and_the_static_one():
    model = resnet().eval()
    mut = DCFFChannelMutator(parse_cfg=PARSE)
    mut.prepare_from_supernet(model)
    # MMRazor's name of layer2's residual unit
    mut.set_choices({'backbone.layer2.0.conv2_(0, 128)_128': 0.5,
                     'backbone.layer1.0.conv1_(0, 64)_64': 0.25})
    mut.calc_information(0.5)
    conv = model.backbone.layer1[0].conv1
    original = mut._tensor('backbone.layer1.0.conv1.weight')
    fused = (pooled_channels(original, 0.5, 16) @ original.reshape(64, -1)).reshape(16, 64, 3, 3)
    torch.testing.assert_close(conv.weight[:16], fused)
    assert not conv.weight[16:].any()
    # every conv producing the residual unit is fused on its own
    assert {'backbone.layer2.0.conv2', 'backbone.layer2.0.downsample.0',
            'backbone.layer2.1.conv2'} <= set(mut.fused)
    x = torch.randn(2, 3, 16, 16)
    static = mut.to_static(model).eval()
    assert static.backbone.layer1[0].conv1.out_channels == 16
    assert static.backbone.layer2[0].downsample[0].out_channels == 64 == static.head.fc.in_features
    torch.testing.assert_close(static(x), model(x), rtol=1e-4, atol=1e-5)


def test_dcff_recomputes_the_fusion_every_step_freq_iterations():
    algo = MODELS.build(dict(
        _scope_='mmrazor', type='DCFF', architecture=resnet(),
        mutator_cfg=dict(type='DCFFChannelMutator',
                         channel_unit_cfg=dict(type='DCFFChannelUnit',
                                               default_args=dict(choice_mode='ratio')),
                         parse_cfg=PARSE),
        target_pruning_ratio={'backbone.layer1.0.conv1_(0, 64)_64': 0.5}, step_freq=2))
    fuser = algo.mutator._fusers(algo.architecture.backbone.layer1[0].conv1)[0]
    opt = torch.optim.SGD(algo.architecture.parameters(), lr=0.1)
    data = (torch.randn(2, 3, 16, 16), torch.tensor([1, 2]))
    algo.train_step(data, opt)
    first = fuser.fuse.clone()
    assert not first[32:].any() and torch.allclose(first[:32].sum(1), torch.ones(32))
    algo.train_step(data, opt)  # iteration 1: no fusion
    assert torch.equal(fuser.fuse, first)
    algo.train_step(data, opt)  # iteration 2: fused again, at a colder temperature
    assert not torch.equal(fuser.fuse, first)
    assert algo.to_static().backbone.layer1[0].conv1.out_channels == 32
