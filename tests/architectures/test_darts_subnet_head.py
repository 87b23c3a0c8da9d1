"""MMRazor's DartsSubnetClsHead (main + weighted auxiliary loss) on a DARTS subnet whose file
omits the edges its routes drop (as MMRazor's DARTS_SUBNET_CIFAR_MMRAZOR_97.32.yaml does)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from razor_ext.architectures.heads import DartsSubnetClsHead
from razor_ext.registry import MODELS
from tests.nas.test_darts_dsnas import OPS


def test_head_adds_the_weighted_auxiliary_loss_and_its_accuracy():
    torch.manual_seed(0)
    head = DartsSubnetClsHead(aux_in_channels=6, num_classes=3, in_channels=4, cal_acc=True,
                              topk=(1,), aux_loss=dict(type='CrossEntropyLoss', loss_weight=0.4))
    aux, main, y = torch.randn(5, 6), torch.randn(5, 4), torch.tensor([0, 2, 1, 1, 0])
    losses = head.loss((aux, main), y)
    aux_logits = head.aux_linear(aux)
    torch.testing.assert_close(losses['aux_head.loss'], 0.4 * nn.functional.cross_entropy(aux_logits, y))
    torch.testing.assert_close(losses['loss'], nn.functional.cross_entropy(head.fc(main), y))
    hits = (aux_logits.argmax(1) == y).float().mean() * 100
    torch.testing.assert_close(losses['aux_head.accuracy_top-1'], hits)
    torch.testing.assert_close(head((aux, main)), head.fc(main))  # forward: the main head only
    with pytest.raises(ValueError, match='auxiliary'):
        head.loss((main,), y)


def test_darts_subnet_with_auxiliary_tower_loads_a_file_without_dropped_edges_and_trains():
    torch.manual_seed(0)
    supernet = dict(
        type='mmcls.ImageClassifier',
        backbone=dict(type='mmrazor.DartsBackbone', in_channels=3, base_channels=4, num_layers=3,
                      num_nodes=2, out_indices=(2,), auxliary=True, aux_channels=8,
                      aux_out_channels=16, norm_cfg=dict(type='BN', affine=True),
                      mutable_cfg=dict(type='mmrazor.DiffMutableOP', candidates=OPS),
                      route_cfg=dict(type='mmrazor.DiffChoiceRoute', with_arch_param=True)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='mmrazor.DartsSubnetClsHead', num_classes=10, in_channels=32,
                  aux_in_channels=16, loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
                  aux_loss=dict(type='CrossEntropyLoss', loss_weight=0.4)))
    subnet = {}
    for cell in ('normal', 'reduce'):
        subnet[f'{cell}_n2'] = {'chosen': [f'{cell}_n2_p0', f'{cell}_n2_p1']}
        subnet[f'{cell}_n3'] = {'chosen': [f'{cell}_n3_p0', f'{cell}_n3_p2']}
        for edge in ('n2_p0', 'n2_p1', 'n3_p0', 'n3_p2'):  # n3_p1 is dropped: not listed
            subnet[f'{cell}_{edge}'] = {'chosen': ['sep_conv_3x3']}
    model = MODELS.build(dict(type='mmrazor.sub_model', cfg=supernet, fix_subnet=subnet))
    model.train()
    x, y = torch.randn(2, 3, 32, 32), torch.tensor([1, 7])
    losses = model(x, y, mode='loss')
    assert set(losses) == {'loss', 'aux_head.loss'}
    sum(losses.values()).backward()
    assert model.head.aux_linear.weight.grad.abs().sum() > 0
    model.eval()
    assert model(x).shape == (2, 10)  # no auxiliary tower output in eval
    del subnet['normal_n2_p0']  # an edge its route keeps must be listed
    with pytest.raises(KeyError, match='normal_n2_p0'):
        MODELS.build(dict(type='mmrazor.sub_model', cfg=supernet, fix_subnet=subnet))
