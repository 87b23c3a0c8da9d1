"""AttentiveMobileNetV3 (BigNAS): MMRazor's search space and aliases, its published subnet
sizes, subnet files, static equality and ONNX."""
from __future__ import annotations

import random
from pathlib import Path

import torch
import yaml

from razor_ext import Config
from razor_ext.export import to_onnx
from razor_ext.architectures.backbones import AttentiveMobileNetV3
from razor_ext.nas import NasMutator
from razor_ext.estimators import ResourceEstimator
from razor_ext.registry import MODELS
from razor_ext.supernet.fix_subnet import export_fix_subnet, load_fix_subnet
from tests.mmrazor_source import mmrazor_text

ROOT = Path(__file__).resolve().parents[2]
SPACE = Config.fromfile(str(ROOT / 'configs/_base_/nas_backbones/attentive_mobilenetv3_supernet.py'))


def _supernet() -> AttentiveMobileNetV3:
    torch.manual_seed(0)
    return MODELS.build(dict(SPACE.nas_backbone)).eval()


def _mmrazor_subnet(name: str) -> dict:
    return yaml.safe_load(mmrazor_text(f'configs/nas/mmcls/bignas/{name}'))


def test_search_groups_carry_mmrazor_aliases():
    mutator = NasMutator()
    mutator.prepare_from_supernet(_supernet())
    groups = set(mutator.search_groups)
    want = {'backbone.first_channels', 'backbone.last_channels'} | {
        f'backbone.layers.{i}.{k}' for i in range(1, 8)
        for k in ('kernel_size', 'expand_ratio', 'depth', 'out_channels')}
    assert want <= groups and len(groups - want) == 1  # + the last layer's single expand ratio
    assert mutator.max_choices['backbone.layers.5.depth'] == 8
    assert mutator.min_choices['backbone.layers.2.expand_ratio'] == 4


def test_published_subnet_size_and_static_equality(tmp_path):
    net = _supernet()
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    # AttentiveNAS-A6 as MMRazor publishes it (configs/nas/mmcls/bignas/ATTENTIVE_SUBNET_A6.yaml):
    # 15.594 M params with a 1000-class linear head
    a6 = {**{f'backbone.layers.{i}.{k}': {'chosen': v} for i, (ks, e, d, c) in enumerate(
        [(3, 1, 1, 24), (3, 4, 3, 32), (3, 6, 3, 40), (3, 5, 4, 72), (3, 4, 4, 128),
         (5, 6, 6, 216), (3, 6, 1, 224)], 1)
        for k, v in (('kernel_size', ks), ('expand_ratio', e), ('depth', d), ('out_channels', c))},
        'backbone.first_channels': {'chosen': 16}, 'backbone.last_channels': {'chosen': 1984},
        'input_shape': {'chosen': [288, 288]}}
    published = _mmrazor_subnet('ATTENTIVE_SUBNET_A6.yaml')
    if published is not None:  # where the MMRazor sources are fetched, check the copy above
        assert published == a6
    choices = {**mutator.current_choices, **{k: v['chosen'] for k, v in a6.items() if k != 'input_shape'}}
    mutator.set_choices(choices)
    params = ResourceEstimator((1, 3, 32, 32), units=None).estimate(net)['params']  # params do not depend on the input size
    last = choices['backbone.last_channels']
    assert round((params + last * 1000 + 1000) / 1e6, 3) == 15.594
    x = torch.randn(2, 3, 32, 32)
    random.seed(0)
    for kind in ('random', 'min'):  # the 23 M-param max subnet is slow to copy here
        mutator.set_choices(mutator.sample_choices(kind))
        with torch.no_grad():
            want = net(x)[0]
        _, static = export_fix_subnet(net, slice_weight=True, path=tmp_path / f'{kind}.yaml')
        with torch.no_grad():
            torch.testing.assert_close(static(x)[0], want)
        fresh = _supernet()
        fresh.load_state_dict(net.state_dict())
        with torch.no_grad():
            torch.testing.assert_close(load_fix_subnet(fresh, tmp_path / f'{kind}.yaml')(x)[0], want)
    to_onnx(static, x, tmp_path / 'subnet.onnx')  # the static subnet runs in onnxruntime


def test_mmrazor_subnet_files_load(tmp_path):
    for name in ('ATTENTIVE_SUBNET_A0.yaml', 'ATTENTIVE_SUBNET_A6.yaml'):
        path = tmp_path / name
        path.write_text(yaml.safe_dump(_mmrazor_subnet(name)))
        static = load_fix_subnet(_supernet(), path)
        size = static.fixed_input_shape
        assert size in ([192, 192], [288, 288])
        with torch.no_grad():
            assert static(torch.randn(1, 3, 32, 32))[0].shape[1] in (1792, 1984)
