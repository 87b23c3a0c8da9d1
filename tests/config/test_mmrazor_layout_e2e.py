"""A KD config in MMRazor's layout (mmcls bases, ``cfg_path`` teacher and student, ``_scope_``)
trains end to end on a tiny generated ImageNet-style folder: through the Runner and through
``razor-ext train ... --cfg-options``."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from razor_ext import Config
from razor_ext.engine import Runner

ROOT = Path(__file__).resolve().parents[2]

KD_CONFIG = """\
_base_ = [
    'mmcls::_base_/datasets/imagenet_bs32.py',
    'mmcls::_base_/schedules/imagenet_bs256.py',
    'mmcls::_base_/default_runtime.py'
]
teacher_ckpt = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet34.pth'
model = dict(
    _scope_='mmrazor',
    type='SingleTeacherDistill',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    architecture=dict(cfg_path='mmcls::resnet/resnet18_8xb32_in1k.py', pretrained=False),
    teacher=dict(cfg_path='mmcls::resnet/resnet18_8xb32_in1k.py', pretrained=False),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
        teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
        distill_losses=dict(loss_kl=dict(type='KLDivergence', tau=1, loss_weight=3)),
        loss_forward_mappings=dict(loss_kl=dict(
            preds_S=dict(from_student=True, recorder='fc'),
            preds_T=dict(from_student=False, recorder='fc')))))
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='mmrazor.SingleTeacherDistillValLoop')
"""

# What a user passes to train on a small folder: the folder, a small batch and crop, one epoch,
# no teacher download, no evaluation.
OPTIONS = ['train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
           'train_dataloader.dataset.pipeline.1.scale=32', 'train_cfg.max_epochs=1',
           'model.teacher_ckpt=None', 'val_cfg=None', 'test_cfg=None']


@pytest.fixture(scope='module')
def imagenet_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``train/<wnid>/*.JPEG`` and ``meta/train.txt``, as mmcls's ImageNet config expects."""
    root = tmp_path_factory.mktemp('imagenet')
    rng = np.random.default_rng(0)
    lines = []
    for label, wnid in enumerate(('n01440764', 'n01443537')):
        (root / 'train' / wnid).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(
                root / 'train' / wnid / f'{i}.JPEG', format='JPEG')
            lines.append(f'{wnid}/{i}.JPEG {label}')
    (root / 'meta').mkdir()
    (root / 'meta' / 'train.txt').write_text('\n'.join(lines) + '\n')
    return root


@pytest.fixture(scope='module')
def kd_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp('cfg') / 'kd_logits_resnet18_resnet18_8xb32_in1k.py'
    path.write_text(KD_CONFIG)
    return path


def test_kd_config_in_mmrazor_layout_trains_one_epoch(kd_config: Path, imagenet_folder: Path,
                                                      tmp_path: Path) -> None:
    cfg = Config.fromfile(kd_config)
    cfg.merge_from_dict({k: (None if v == 'None' else int(v) if v.isdigit() else v)
                         for k, v in (o.split('=', 1) for o in OPTIONS)})
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': str(imagenet_folder),
                         'work_dir': str(tmp_path)})
    runner = Runner.from_cfg(cfg)
    loader = runner.train_loop.dataloader
    batch = next(iter(loader))
    assert batch['inputs'].shape == (4, 3, 32, 32) and len(batch['data_samples']) == 4
    before = runner.model.architecture.head.fc.weight.detach().clone()
    runner.train()
    assert not runner.model.architecture.head.fc.weight.detach().equal(before)
    # MMRazor's teacher stays out of the optimised parameters
    assert all(not p.requires_grad for p in runner.model.teacher.parameters())


def test_cli_trains_an_mmrazor_kd_config_on_a_generated_folder(kd_config: Path, imagenet_folder: Path,
                                                               tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'razor_ext', 'train', str(kd_config), '--work-dir', str(tmp_path),
           '--cfg-options', f'train_dataloader.dataset.data_root={imagenet_folder}', *OPTIONS]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'distill.loss_kl' in result.stdout + result.stderr
    assert 'iter: 2/2' in result.stdout + result.stderr


def test_a_missing_data_root_names_the_path_and_the_layout(kd_config: Path, tmp_path: Path) -> None:
    cfg = Config.fromfile(kd_config)
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': str(tmp_path / 'nowhere'),
                         'val_cfg': None, 'test_cfg': None, 'work_dir': str(tmp_path),
                         'model.teacher_ckpt': None})
    with pytest.raises(FileNotFoundError, match=r'nowhere.*meta/train.txt not found.*class sub-folders'):
        Runner.from_cfg(cfg)
