"""BYOT self-distillation in MMRazor's layout: BYOTConnector (auxiliary head of a shallow
stage) and BYOTDistiller (detached self-teacher records)."""
from __future__ import annotations

import pytest
import torch

from razor_ext.distill.connectors import BYOTConnector
from razor_ext.registry import MODELS


def test_connector_shapes_and_parameter_layout():
    c = BYOTConnector(64, 512, num_classes=100, expansion=1, stride=2)
    feat, logits = c(torch.randn(2, 64, 32, 32))
    assert feat.shape == (2, 512) and logits.shape == (2, 100)
    assert len(c.scala) == 4  # three doublings 64 -> 512, then the pool
    # MMRazor's DartsSepConv: second conv grouped by the input channels, to the output channels
    assert c.scala[0][1][1].weight.shape == (128, 1, 3, 3)
    assert c.scala[0][1][2].weight.shape == (128, 128, 1, 1)
    with pytest.raises(ValueError, match='power of two'):
        BYOTConnector(64, 96, num_classes=10)


def test_attention_gates_the_feature():
    torch.manual_seed(0)
    c = BYOTConnector(8, 16, num_classes=3, expansion=1, stride=2, pool_size=4).eval()
    x = torch.randn(1, 8, 8, 8)
    gate = c.attention(x)
    assert gate.shape == x.shape and 0 < gate.min() and gate.max() < 1
    torch.testing.assert_close(c(x)[0], c.scala(gate * x).flatten(1))


def byot(loss_weights: dict) -> torch.nn.Module:
    rec = dict(bb_s1=dict(type='ModuleOutputs', source='backbone.layer1.1.relu'))
    teacher = dict(fc=dict(type='ModuleOutputs', source='head.fc'),
                   neck_gap=dict(type='ModuleOutputs', source='neck.gap'),
                   gt_labels=dict(type='ModuleInputs', source='head.loss_module'))
    s1 = dict(recorder='bb_s1', from_student=True, connector='c1')
    return MODELS.build(dict(
        type='mmrazor.SelfDistill', calculate_student_loss=False,
        architecture=dict(type='mmcls.ImageClassifier',
                          backbone=dict(type='mmcls.ResNet_CIFAR', depth=18, num_stages=2,
                                        out_indices=(1,)),
                          neck=dict(type='mmcls.GlobalAveragePooling'),
                          head=dict(type='mmcls.LinearClsHead', num_classes=10, in_channels=128)),
        distiller=dict(
            type='BYOTDistiller', student_recorders=rec, teacher_recorders=teacher,
            connectors=dict(c1=dict(type='BYOTConnector', in_channel=64, out_channel=128,
                                    expansion=1, stride=2, pool_size=16, num_classes=10)),
            distill_losses=dict(
                loss_fet=dict(type='L2Loss', normalize=False, dist=True,
                              loss_weight=loss_weights['fet']),
                loss_label=dict(type='mmcls.CrossEntropyLoss', loss_weight=loss_weights['label']),
                loss_softl=dict(type='KLDivergence', tau=3, loss_weight=loss_weights['softl'])),
            loss_forward_mappings=dict(
                loss_fet=dict(s_feature=dict(s1, connector_idx=0),
                              t_feature=dict(recorder='neck_gap', from_student=False)),
                loss_label=dict(cls_score=dict(s1, connector_idx=1),
                                label=dict(recorder='gt_labels', from_student=False, data_idx=1)),
                loss_softl=dict(preds_S=dict(s1, connector_idx=1),
                                preds_T=dict(recorder='fc', from_student=False))))))


def test_shallow_heads_learn_from_the_deep_layers_which_they_do_not_pull():
    torch.manual_seed(0)
    algo = byot(dict(fet=1.0, label=1.0, softl=1.0)).train()
    x, y = torch.randn(2, 3, 32, 32), torch.tensor([3, 7])
    losses = algo.loss(x, [{'gt_label': t.view(1)} for t in y])
    assert {'distill.loss_fet', 'distill.loss_label', 'distill.loss_softl'} <= set(losses)
    sum(losses.values()).backward()
    layer1 = algo.architecture.backbone.layer1[0].conv1.weight.grad
    assert layer1 is not None and layer1.abs().sum() > 0
    # the self-teacher side (layer2, head) is detached: no gradient reaches it
    for p in list(algo.architecture.backbone.layer2.parameters()) + list(
            algo.architecture.head.parameters()):
        assert p.grad is None or not p.grad.any()


def test_label_loss_uses_the_recorded_ground_truth():
    torch.manual_seed(0)
    algo = byot(dict(fet=0.0, label=1.0, softl=0.0)).train()
    x = torch.randn(2, 3, 32, 32)
    y = torch.tensor([3, 7])
    losses = algo.loss(x, [{'gt_label': t.view(1)} for t in y])
    # recompute by hand: the connector's logits on the recorded feature against y
    with algo.distiller.student_recorders, algo.distiller.teacher_recorders:
        algo.architecture(x, [{'gt_label': t.view(1)} for t in y], mode='loss')
    rec = algo.distiller.get_record('bb_s1', True, connector='c1', connector_idx=1)
    label = algo.distiller.get_record('gt_labels', False, data_idx=1)
    algo.distiller.student_recorders.reset()
    algo.distiller.teacher_recorders.reset()
    assert torch.equal(label, y)
    torch.testing.assert_close(losses['distill.loss_label'],
                               torch.nn.functional.cross_entropy(rec, y), rtol=1e-4, atol=1e-5)
