"""MMRazor's unit names as aliases in the ChannelMutator, and the Group Fisher sub-models
(``GroupFisherDeploySubModel`` from a structure dict / file, ``GroupFisherSubModel`` from a
pruning algorithm and its checkpoint)."""
from __future__ import annotations

import json

import pytest
import torch

from razor_ext.fileio import save_checkpoint
from razor_ext.pruning import ChannelMutator, GroupFisherAlgorithm
from razor_ext.registry import MODELS

PARSE = dict(type='ChannelAnalyzer', demo_input=(1, 3, 32, 32))


def resnet_cifar() -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='mmcls.ImageClassifier',
        backbone=dict(type='mmcls.ResNet_CIFAR', depth=18, num_stages=2, out_indices=(1,)),
        neck=dict(type='mmcls.GlobalAveragePooling'),
        head=dict(type='mmcls.LinearClsHead', num_classes=10, in_channels=128)))


def test_mmrazor_unit_name_of_a_residual_unit_resolves_to_the_same_unit():
    model = resnet_cifar().eval()
    mut = ChannelMutator(parse_cfg=PARSE)
    mut.prepare_from_supernet(model)
    # MMRazor names the residual unit of layer2 after conv2 of its first block (its tracer meets
    # conv2 before downsample.0); the alias must select the unit that holds both.
    alias = 'backbone.layer2.0.conv2_(0, 128)_128'
    (name,) = mut.resolve_names({alias: 0.5})
    unit = mut._name2unit[name]
    modules = {m for m, _, _ in unit.unit.output_related}
    assert {'backbone.layer2.0.conv2', 'backbone.layer2.0.downsample.0',
            'backbone.layer2.1.conv2'} <= modules
    mut.set_choices({alias: 0.5})
    static = mut.to_static()
    assert static.backbone.layer2[0].conv2.out_channels == 64
    assert static.backbone.layer2[0].downsample[0].out_channels == 64
    assert static.head.fc.in_features == 64
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(static(x), model(x), rtol=1e-4, atol=1e-5)


def test_unknown_unit_name_is_a_keyerror_that_names_it_and_lists_the_units():
    mut = ChannelMutator(parse_cfg=PARSE)
    mut.prepare_from_supernet(resnet_cifar())
    with pytest.raises(KeyError, match=r"backbone\.nope_\(0, 8\)_8.*units: \['backbone\.conv1"):
        mut.set_choices({'backbone.nope_(0, 8)_8': 0.5})
    with pytest.raises(KeyError, match='target_pruning_ratio'):
        MODELS.build(dict(type='ItePruneAlgorithm', architecture=resnet_cifar(),
                          mutator_cfg=dict(type='ChannelMutator', parse_cfg=PARSE),
                          target_pruning_ratio={'backbone.nope_(0, 8)_8': 0.5}))


@pytest.mark.parametrize('as_file', [False, True])
def test_deploy_sub_model_keeps_the_first_channels_of_each_unit(tmp_path, as_file):
    model = resnet_cifar().eval()
    structure = {'backbone.conv1_(0, 64)_64': 40, 'backbone.layer1.0.conv1_(0, 64)_64': 0.25,
                 'backbone.layer2.0.conv2_(0, 128)_128': 96}
    if as_file:
        (tmp_path / 'fix_subnet.json').write_text(json.dumps(structure))
        structure = str(tmp_path / 'fix_subnet.json')
    cfg = dict(type='mmrazor.GroupFisherDeploySubModel', architecture=model, fix_subnet=structure,
               divisor=8, parse_cfg=PARSE)
    small = MODELS.build(cfg)
    b = small.backbone
    assert b.conv1.out_channels == 40 == b.layer1[0].conv2.out_channels == b.layer1[1].conv1.in_channels
    assert b.layer1[0].conv1.out_channels == 16 == b.layer1[0].conv2.in_channels
    assert b.layer2[0].conv2.out_channels == 96 == b.layer2[0].downsample[0].out_channels
    # MMRazor's SequentialMutableChannelUnit: the first n channels, whatever their norm.
    torch.testing.assert_close(b.conv1.weight, model.backbone.conv1.weight[:40])
    torch.testing.assert_close(b.layer1[0].conv2.weight, model.backbone.layer1[0].conv2.weight[:40, :16])
    torch.testing.assert_close(small.head.fc.weight, model.head.fc.weight[:, :96])
    assert small.pruning_structure['backbone.conv1_(0, 64)_64'] == 40
    assert small(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_deploy_sub_model_names_a_missing_structure_file(tmp_path):
    missing = tmp_path / 'nowhere' / 'fix_subnet.json'
    with pytest.raises(FileNotFoundError, match='nowhere/fix_subnet.json.*unit name'):
        MODELS.build(dict(type='GroupFisherDeploySubModel', architecture=resnet_cifar(),
                          fix_subnet=str(missing), parse_cfg=PARSE))


def test_sub_model_rebuilds_the_pruned_model_from_a_group_fisher_checkpoint(tmp_path):
    arch = dict(type='mmcls.ImageClassifier',
                backbone=dict(type='mmcls.ResNet_CIFAR', depth=18, num_stages=2, out_indices=(1,)),
                neck=dict(type='mmcls.GlobalAveragePooling'),
                head=dict(type='mmcls.LinearClsHead', num_classes=10, in_channels=128))
    algo_cfg = dict(type='GroupFisherAlgorithm', architecture=arch, interval=1,
                    mutator=dict(type='GroupFisherChannelMutator', parse_cfg=PARSE))
    torch.manual_seed(0)
    algo = MODELS.build(algo_cfg)
    opt = torch.optim.SGD(algo.parameters(), lr=0.0)
    for _ in range(5):  # one removal per step (interval=1)
        algo.train_step((torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])), opt)
    assert algo.pruned == 5
    expected = algo.to_static().eval()
    ckpt = save_checkpoint({'state_dict': algo.state_dict()}, tmp_path / 'pruned.pth')

    small = MODELS.build(dict(type='mmrazor.GroupFisherSubModel', algorithm=dict(
        algo_cfg, init_cfg=dict(type='Pretrained', checkpoint=str(ckpt))))).eval()
    got = {k: v.shape for k, v in small.state_dict().items()}
    assert got == {k: v.shape for k, v in expected.state_dict().items()}
    full = sum(p.numel() for p in MODELS.build(arch).parameters())
    assert sum(p.numel() for p in small.parameters()) < full
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(small(x), expected(x))
    assert small.data_preprocessor is not None


def test_sub_model_without_checkpoint_is_the_whole_architecture():
    arch = resnet_cifar()
    n = sum(p.numel() for p in arch.parameters())
    small = MODELS.build(dict(type='GroupFisherSubModel', algorithm=dict(
        type='GroupFisherAlgorithm', architecture=arch,
        mutator=dict(type='ChannelMutator', parse_cfg=PARSE))))
    assert sum(p.numel() for p in small.parameters()) == n
    with pytest.raises(TypeError, match='pruning algorithm'):
        MODELS.build(dict(type='GroupFisherSubModel', algorithm=torch.nn.Linear(2, 2)))
