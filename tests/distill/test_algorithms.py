"""SelfDistill, OverhaulFeatureDistillation and DAFLDataFreeDistillation on the toy pair."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from razor_ext.distill.algorithms import margin_from_bn
from razor_ext.registry import MODELS
from tests.distill.toy_models import ToyMobileNet, ToyResNet


def test_self_distill_trains_shallow_head_from_own_logits():
    torch.manual_seed(0)
    algo = MODELS.build(dict(
        type='SelfDistill', architecture=dict(type=ToyResNet, width=8),
        distiller=dict(
            type='ConfigurableDistiller',
            student_recorders=dict(stem=dict(type='ModuleOutputs', source='stem')),
            teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='fc')),
            connectors=dict(head=[dict(type='TorchFunctionalConnector',
                                       function_name='adaptive_avg_pool2d',
                                       func_args=dict(output_size=1)),
                                  dict(type='LinearConnector', in_channel=8, out_channel=10)]),
            distill_losses=dict(loss_self=dict(type='KLDivergence', tau=2.0)),
            loss_forward_mappings=dict(loss_self=dict(
                preds_S=dict(recorder='stem', from_student=True, connector='head'),
                preds_T=dict(recorder='fc', from_student=False))))))
    x, y = torch.randn(4, 1, 6, 6), torch.tensor([0, 1, 2, 3])
    losses = algo(x, y, mode='loss')
    assert sorted(losses) == ['distill.loss_self', 'student.loss']
    losses['distill.loss_self'].backward()
    assert algo.distiller.connectors['head'][1].linear.weight.grad is not None
    assert algo.architecture.fc.weight.grad is None  # teacher side detached by the loss


def test_margin_from_bn_matches_truncated_normal_mean():
    bn = nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.1]))
        bn.bias.copy_(torch.tensor([0.0, 1.0, 5.0]))
    got = margin_from_bn(bn).flatten().tolist()
    # E[x; x < 0] / P(x < 0) for x ~ N(b, s^2), by numerical integration.
    for (s, b), m in zip([(1.0, 0.0), (2.0, 1.0)], got[:2]):
        xs = [-20 * s + b + i * 1e-3 * s for i in range(int((20 * s - b) / (1e-3 * s)))]
        xs = [v for v in xs if v < 0]
        dens = [math.exp(-((v - b) / s) ** 2 / 2) for v in xs]
        assert m == pytest.approx(sum(v * d for v, d in zip(xs, dens)) / sum(dens), rel=1e-3)
    assert got[2] == pytest.approx(-0.3)  # P(x < 0) tiny -> -3|gamma|


def test_overhaul_feature_distillation_builds_margins_and_trains():
    torch.manual_seed(0)
    algo = MODELS.build(dict(
        type='OverhaulFeatureDistillation',
        architecture=dict(type=ToyMobileNet, width=8), teacher=dict(type=ToyResNet, width=16),
        distiller=dict(
            type='OFDDistiller',
            student_recorders=dict(feat=dict(type='ModuleOutputs', source='block.3')),
            teacher_recorders=dict(feat=dict(type='ModuleOutputs', source='layer1.4')),
            connectors=dict(
                s_feat=dict(type='ConvModuleConnector', in_channel=8, out_channel=16,
                            norm_cfg=dict(type='BN'), act_cfg=None),
                t_feat=dict(type='OFDTeacherConnector')),
            distill_losses=dict(loss_ofd=dict(type='OFDLoss', loss_weight=1.0)),
            loss_forward_mappings=dict(loss_ofd=dict(
                s_feature=dict(recorder='feat', from_student=True, connector='s_feat'),
                t_feature=dict(recorder='feat', from_student=False, connector='t_feat'))))))
    margin = algo.distiller.connectors['t_feat'].margin
    torch.testing.assert_close(margin, margin_from_bn(algo.teacher.layer1[4]))
    x, y = torch.randn(4, 1, 6, 6), torch.tensor([0, 1, 2, 3])
    losses = algo(x, y, mode='loss')
    assert torch.isfinite(losses['distill.loss_ofd']) and losses['distill.loss_ofd'] > 0
    # Real training steps: the student and its connector learn, the teacher and its margin do not,
    # and the distillation loss on the batch goes down.
    teacher = {k: v.clone() for k, v in algo.teacher.state_dict().items()}
    student = {k: v.detach().clone() for k, v in algo.architecture.named_parameters()}
    connector = {k: v.detach().clone() for k, v in algo.distiller.connectors['s_feat'].named_parameters()}
    optimizer = torch.optim.SGD([p for p in algo.parameters() if p.requires_grad], lr=0.05)
    algo.train()
    logs = [algo.train_step((x, y), optimizer) for _ in range(8)]
    assert logs[-1]['distill.loss_ofd'] < 0.97 * logs[0]['distill.loss_ofd'], logs
    assert all(torch.equal(v, algo.teacher.state_dict()[k]) for k, v in teacher.items())
    torch.testing.assert_close(algo.distiller.connectors['t_feat'].margin, margin)
    assert any(not torch.equal(v, dict(algo.architecture.named_parameters())[k]) for k, v in student.items())
    assert any(not torch.equal(v, dict(algo.distiller.connectors['s_feat'].named_parameters())[k])
               for k, v in connector.items())


def test_ofd_distiller_rejects_non_bn_source():
    with pytest.raises(TypeError, match='BatchNorm'):
        MODELS.build(dict(
            type='OverhaulFeatureDistillation', architecture=ToyMobileNet(), teacher=ToyResNet(),
            distiller=dict(
                type='OFDDistiller',
                student_recorders=dict(f=dict(type='ModuleOutputs', source='fc')),
                teacher_recorders=dict(f=dict(type='ModuleOutputs', source='fc')),
                connectors=dict(t=dict(type='OFDTeacherConnector')),
                distill_losses=dict(loss_ofd=dict(type='OFDLoss')),
                loss_forward_mappings=dict(loss_ofd=dict(
                    s_feature=dict(recorder='f', from_student=True),
                    t_feature=dict(recorder='f', from_student=False, connector='t'))))))


def test_dafl_updates_generator_and_student_but_not_teacher():
    torch.manual_seed(0)
    teacher = ToyResNet(width=8, in_channels=3)
    algo = MODELS.build(dict(
        type='DAFLDataFreeDistillation', architecture=ToyMobileNet(width=4, in_channels=3),
        teachers=dict(t1=dict(build_cfg=teacher)),
        generator=dict(type='DAFLGenerator', img_size=8, latent_dim=16, hidden_channels=8),
        distiller=dict(
            type='ConfigurableDistiller',
            student_recorders=dict(fc=dict(type='ModuleOutputs', source='fc')),
            teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='fc')),
            distill_losses=dict(loss_kl=dict(type='KLDivergence', tau=6.0)),
            loss_forward_mappings=dict(loss_kl=dict(
                preds_S=dict(recorder='fc', from_student=True),
                preds_T=dict(recorder='fc', from_student=False)))),
        generator_distiller=dict(
            type='ConfigurableDistiller',
            teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='fc'),
                                   pool=dict(type='ModuleInputs', source='fc')),
            distill_losses=dict(
                loss_oh=dict(type='OnehotLikeLoss', loss_weight=1.0),
                loss_ie=dict(type='InformationEntropyLoss', loss_weight=5.0, gather=False),
                loss_ac=dict(type='ActivationLoss', loss_weight=0.1)),
            loss_forward_mappings=dict(
                loss_oh=dict(preds_T=dict(recorder='fc', from_student=False)),
                loss_ie=dict(preds_T=dict(recorder='fc', from_student=False)),
                loss_ac=dict(feat_T=dict(recorder='pool', from_student=False, data_idx=0))))))
    assert not {id(p) for p in teacher.parameters()} & {id(p) for p in algo.parameters()}
    t_before = copy.deepcopy(teacher.state_dict())
    g_before = copy.deepcopy(algo.generator.state_dict())
    s_before = copy.deepcopy(algo.student.state_dict())
    optim = dict(architecture=torch.optim.SGD(algo.student.parameters(), lr=0.1),
                 generator=torch.optim.Adam(algo.generator.parameters(), lr=1e-3))
    algo.train()
    for _ in range(2):
        log = algo.train_step((torch.zeros(4, 3, 8, 8), None), optim)
    assert {'generator.loss_oh', 'generator.loss_ie', 'generator.loss_ac',
            'distill.loss_kl'} <= set(log)
    assert all(torch.equal(t_before[k], v) for k, v in teacher.state_dict().items())
    assert all(p.grad is None for p in teacher.parameters())
    assert not torch.equal(g_before['linear.weight'], algo.generator.linear.weight)
    assert not torch.equal(s_before['fc.weight'], algo.student.fc.weight)
