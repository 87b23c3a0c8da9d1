"""Config files in MMRazor's layout for the algorithms ported for its pruning and distillation
configs (no MMRazor sources needed): each loads, builds and trains one step with the same check
as the walk over MMRazor's own configs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.config.mmrazor_walk import check_config

CIFAR = "['mmcls::_base_/datasets/cifar10_bs16.py', 'mmcls::_base_/default_runtime.py']"

DEPLOY = f"""\
_base_ = 'mmcls::resnet/resnet18_8xb16_cifar10.py'
fix_subnet = {{'backbone.conv1_(0, 64)_64': 48, 'backbone.layer2.0.conv2_(0, 128)_128': 96}}
architecture = _base_.model
model = dict(_delete_=True, _scope_='mmrazor', type='GroupFisherDeploySubModel',
             architecture=architecture, fix_subnet=fix_subnet, divisor=8,
             parse_cfg=dict(type='ChannelAnalyzer', demo_input=(1, 3, 32, 32)))
"""

MUTATOR_SUBNET = """\
_base_ = ['./dmcp_supernet.py']
_base_.optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))
model = dict(_scope_='mmrazor', _delete_=True, type='mutator_sub_model', cfg=_base_.supernet,
             fix_subnet='{subnet}', mode='mutator')
"""

DMCP = f"""\
_base_ = {CIFAR}
supernet = dict(_scope_='mmcls', type='ImageClassifier',
                backbone=dict(type='ResNet_CIFAR', depth=18, num_stages=2, out_indices=(1,)),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=10, in_channels=128))
model = dict(
    _scope_='mmrazor', type='DMCP', architecture=supernet,
    distiller=dict(type='ConfigurableDistiller',
                   teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
                   student_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
                   distill_losses=dict(loss_kl=dict(type='KLDivergence', tau=1, loss_weight=1)),
                   loss_forward_mappings=dict(loss_kl=dict(
                       preds_S=dict(recorder='fc', from_student=True),
                       preds_T=dict(recorder='fc', from_student=False)))),
    mutator_cfg=dict(type='DMCPChannelMutator',
                     channel_unit_cfg=dict(type='DMCPChannelUnit',
                                           default_args=dict(choice_mode='number')),
                     parse_cfg=dict(type='ChannelAnalyzer', demo_input=(1, 3, 32, 32),
                                    tracer_type='BackwardTracer')),
    strategy=['max', 'min', 'scheduled_random', 'arch_random'],
    arch_start_train=0, arch_train_freq=1, flop_loss_weight=0.1, distillation_times=0,
    target_flops=50)
optim_wrapper = dict(
    constructor='mmrazor.SeparateOptimWrapperConstructor',
    architecture=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1)),
    mutator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=0.5)))
"""

DFAD = f"""\
_base_ = {CIFAR}
model = dict(
    _scope_='mmrazor', type='DataFreeDistillation',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[125.3, 123.0, 113.9],
                           std=[51.6, 50.8, 51.3], bgr_to_rgb=False),
    architecture=dict(cfg_path='mmcls::resnet/resnet18_8xb16_cifar10.py', pretrained=False),
    teachers=dict(res34=dict(build_cfg=dict(cfg_path='mmcls::resnet/resnet18_8xb16_cifar10.py',
                                            pretrained=True))),
    generator=dict(type='ZSKTGenerator', img_size=32, latent_dim=64, hidden_channels=32),
    distiller=dict(type='ConfigurableDistiller',
                   student_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
                   teacher_recorders=dict(t=dict(type='ModuleOutputs', source='res34.head.fc')),
                   distill_losses=dict(loss_l1=dict(type='L1Loss', loss_weight=1.0)),
                   loss_forward_mappings=dict(loss_l1=dict(
                       s_feature=dict(from_student=True, recorder='fc'),
                       t_feature=dict(from_student=False, recorder='t')))),
    generator_distiller=dict(type='ConfigurableDistiller',
                             student_recorders=dict(fc=dict(type='ModuleOutputs',
                                                            source='head.fc')),
                             teacher_recorders=dict(t=dict(type='ModuleOutputs',
                                                           source='res34.head.fc')),
                             distill_losses=dict(loss_l1=dict(type='L1Loss', loss_weight=-1.0)),
                             loss_forward_mappings=dict(loss_l1=dict(
                                 s_feature=dict(from_student=True, recorder='fc'),
                                 t_feature=dict(from_student=False, recorder='t')))),
    student_iter=2, student_train_first=True)
optim_wrapper = dict(_delete_=True, constructor='mmrazor.SeparateOptimWrapperConstructor',
                     architecture=dict(optimizer=dict(type='SGD', lr=0.1)),
                     generator=dict(optimizer=dict(type='AdamW', lr=1e-3)))
"""


@pytest.mark.parametrize('name, text', [('deploy.py', DEPLOY), ('dmcp_supernet.py', DMCP),
                                        ('dfad.py', DFAD)], ids=['deploy', 'dmcp', 'dfad'])
def test_ported_family_config_trains_a_step(tmp_path: Path, name: str, text: str) -> None:
    assert check_config(_write(tmp_path / name, text)) == 'trains'


def test_mutator_subnet_config_trains_a_step(tmp_path: Path) -> None:
    """A DMCP subnet config: ``_base_.optim_wrapper = ...`` replaces the supernet's two
    optimizers, the model reads a mutator file of unit choices (MMRazor's names)."""
    _write(tmp_path / 'dmcp_supernet.py', DMCP)
    subnet = tmp_path / 'subnet.json'
    subnet.write_text(json.dumps(dict(
        type='DMCPChannelMutator',
        parse_cfg=dict(type='ChannelAnalyzer', demo_input=[1, 3, 32, 32]),
        channel_unit_cfg=dict(type='DMCPChannelUnit', default_args=dict(choice_mode='number'),
                              units={'backbone.layer2.0.conv2_(0, 128)_128': dict(choice=40)}))))
    assert check_config(_write(tmp_path / 'dmcp_subnet.py',
                               MUTATOR_SUBNET.format(subnet=subnet))) == 'trains'


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding='utf-8')
    return path
