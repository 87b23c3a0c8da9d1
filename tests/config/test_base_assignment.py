"""Changing the bases through ``_base_`` in a ``.py`` body, as MMEngine allows and MMRazor's DMCP
subnet configs do (``_base_.optim_wrapper = dict(...)`` replaces the inherited value instead of
merging into it)."""
from __future__ import annotations

from pathlib import Path

from razor_ext.config import Config


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding='utf-8')
    return path


def test_assigning_a_base_key_replaces_it_and_a_plain_key_still_merges(tmp_path: Path) -> None:
    write(tmp_path / 'base.py', (
        "optim_wrapper = dict(architecture=dict(optimizer=dict(type='SGD', lr=0.5)),\n"
        "                     mutator=dict(optimizer=dict(type='Adam', lr=0.5)))\n"
        "param_scheduler = [dict(type='LinearLR'), dict(type='CosineAnnealingLR')]\n"
        "train_cfg = dict(by_epoch=True, max_epochs=10)\n"))
    cfg = Config.fromfile(write(tmp_path / 'child.py', (
        "_base_ = ['./base.py']\n"
        "_base_.optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.8))\n"
        "_base_.param_scheduler = [dict(type='MultiStepLR')]\n"
        "train_cfg = dict(max_epochs=100)\n")))
    assert cfg.optim_wrapper.to_dict() == {'optimizer': {'type': 'SGD', 'lr': 0.8}}
    assert [s['type'] for s in cfg.param_scheduler] == ['MultiStepLR']
    assert cfg.train_cfg.to_dict() == {'by_epoch': True, 'max_epochs': 100}  # merged, as before


def test_a_changed_base_reaches_the_children_of_the_child(tmp_path: Path) -> None:
    write(tmp_path / 'base.py', "model = dict(type='A', depth=18)\nlr = 0.1\n")
    write(tmp_path / 'mid.py', "_base_ = './base.py'\n_base_.model.depth = 50\n")
    cfg = Config.fromfile(write(tmp_path / 'leaf.py', "_base_ = './mid.py'\nlr = 0.2\n"))
    assert (cfg.model.depth, cfg.lr) == (50, 0.2)
