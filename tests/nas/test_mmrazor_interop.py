"""MMRazor's own files on our search spaces: its SPOS backbone config file builds the same
supernet, its published SPOS subnet (SPOS_SUBNET.yaml) loads through ``sub_model``. Read from the
MMRazor mirror when present (skipped otherwise); never copied into the repository."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from razor_ext import Config
from razor_ext.supernet.mutables import OneShotMutableOP
from razor_ext.nas import NasMutator
from razor_ext.registry import MODELS
from tests.mmrazor_source import mmrazor_text
from razor_ext.supernet.fix_subnet import export_fix_subnet, load_fix_subnet

CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / 'nas' / 'spos'


def mmrazor_file(path: str, tmp_path: Path) -> Path:
    """A file of MMRazor's repository (``MMRAZOR_ROOT``) copied to ``tmp_path``, or skip."""
    dest = tmp_path / Path(path).name
    dest.write_text(mmrazor_text(path))
    return dest


def spos_supernet_cfg() -> dict:
    return Config.fromfile(str(CONFIGS / 'spos_shufflenet_supernet_8xb128_in1k.py')).supernet


def test_mmrazor_backbone_config_file_builds_our_supernet(tmp_path):
    """MMRazor's configs/_base_/nas_backbones/spos_shufflenet_supernet.py, read as is, builds the
    supernet of 8,488,600 parameters inside mmcls's classifier dict."""
    path = mmrazor_file('configs/_base_/nas_backbones/spos_shufflenet_supernet.py', tmp_path)
    backbone = Config.fromfile(str(path)).nas_backbone
    model = MODELS.build(dict(type='mmcls.ImageClassifier', backbone=backbone,
                              neck=dict(type='mmcls.GlobalAveragePooling'),
                              head=dict(type='mmcls.LinearClsHead', num_classes=1000,
                                        in_channels=1024)))
    assert sum(p.numel() for p in model.parameters()) == 8_488_600


def test_mmrazor_spos_subnet_yaml_loads(tmp_path):
    path = mmrazor_file('configs/nas/mmcls/spos/SPOS_SUBNET.yaml', tmp_path)
    model = MODELS.build(dict(_scope_='mmrazor', type='sub_model', cfg=spos_supernet_cfg(),
                              fix_subnet=str(path)))
    assert not any(isinstance(m, OneShotMutableOP) for m in model.modules())
    # MMRazor's file: backbone.layers.0.0 is shuffle_7x7, backbone.layers.1.0 shuffle_xception
    names = dict(model.named_modules())
    assert names['backbone.layers.0.0.branch2.1.conv'].kernel_size == (7, 7)
    assert type(names['backbone.layers.1.0']).__name__ == 'ShuffleXception'
    assert model.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 1000)
    # MMRazor's README gives this subnet 3.35M parameters
    assert sum(p.numel() for p in model.parameters()) == 3_353_592
    # and 0.33G FLOPs (mmcv's count of multiply-adds, BN and activations included): the
    # convolutions and the classifier alone are 316M multiply-adds (our FLOPs are 2 per MAC)
    from razor_ext.estimators import ResourceEstimator
    flops = ResourceEstimator(input_shape=(1, 3, 224, 224)).estimate(model)['flops']
    assert 300 < flops / 2 < 330


def test_generated_subnet_file_in_mmrazor_format_loads(tmp_path):
    """A subnet we export (YAML and JSON) has MMRazor's layout and loads through sub_model."""
    supernet = MODELS.build(spos_supernet_cfg())
    mutator = NasMutator()
    mutator.prepare_from_supernet(supernet)
    random.seed(11)
    mutator.set_choices(mutator.sample_choices())
    for suffix in ('.yaml', '.json'):
        subnet, _ = export_fix_subnet(supernet, path=tmp_path / f'subnet{suffix}')
        assert len(subnet) == 20 and all(k.startswith('backbone.layers.') for k in subnet)
        model = MODELS.build(dict(type='mmrazor.sub_model', cfg=spos_supernet_cfg(),
                                  fix_subnet=str(tmp_path / f'subnet{suffix}')))
        for key, entry in subnet.items():
            chosen = entry['chosen']
            block = model.get_submodule(key)
            want = 'ShuffleXception' if chosen == 'shuffle_xception' else 'ShuffleBlock'
            assert type(block).__name__ == want
            if want == 'ShuffleBlock':
                assert block.kernel_size == int(chosen[-1])


def test_subnet_missing_module_error_names_it_on_the_full_supernet(tmp_path):
    supernet = MODELS.build(spos_supernet_cfg())
    with pytest.raises(KeyError, match=r'backbone\.layers\.4\.0'):
        load_fix_subnet(supernet, {'backbone.layers.4.0': {'chosen': 'shuffle_3x3'}})


def test_sub_model_hands_mutator_mode_to_mutator_sub_model_by_name(monkeypatch):
    """``mode='mutator'`` (DMCP / DCFF subnets) goes to pruning's ``mutator_sub_model`` through
    the registry (nas may not import pruning); without it, a clear NotImplementedError."""
    import sys

    module = sys.modules['razor_ext.nas.sub_model']  # the package exports the function by this name

    calls = []

    class Registry:
        def __init__(self, known):
            self.known = known

        def get(self, name):
            return object() if name in self.known else None

        def build(self, cfg):
            calls.append(cfg)
            return 'built'

    structure = {'channel_unit_cfg': {'units': {}}}
    monkeypatch.setattr(module, 'MODELS', Registry({'mutator_sub_model'}))
    out = module.sub_model(dict(type='Net'), structure, mode='mutator', init_cfg=None)
    assert out == 'built' and calls == [dict(type='mutator_sub_model', cfg=dict(type='Net'),
                                             fix_subnet=structure, mode='mutator', init_cfg=None)]
    monkeypatch.setattr(module, 'MODELS', Registry(set()))
    with pytest.raises(NotImplementedError, match='mutator_sub_model'):
        module.sub_model(dict(type='Net'), structure, mode='mutator')
    with pytest.raises(ValueError, match="'mutator'"):
        module.sub_model(dict(type='Net'), structure, mode='bogus')
