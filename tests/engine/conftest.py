"""Small runner configs on the embedded data: the 500-image val split trains in seconds."""
from __future__ import annotations

import pytest


def small_cfg(work_dir, max_epochs=2, **overrides):
    cfg = dict(
        model=dict(type='BaseAlgorithm', architecture=dict(type='MnistCNN', width=4)),
        work_dir=str(work_dir),
        randomness=dict(seed=3, deterministic=True),
        train_dataloader=dict(batch_size=50, dataset=dict(type='EmbeddedDigits', split='val'),
                              sampler=dict(type='DefaultSampler', shuffle=True)),
        val_dataloader=dict(batch_size=250, dataset=dict(type='EmbeddedDigits', split='test')),
        val_cfg=dict(type='ValLoop'),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=3e-3)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1], gamma=0.5),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=max_epochs),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=5, console=False),
                           checkpoint=dict(type='CheckpointHook', interval=1)),
    )
    cfg.update(overrides)
    return cfg


@pytest.fixture
def make_cfg(tmp_path):
    return lambda **kw: small_cfg(tmp_path / 'run', **kw)
