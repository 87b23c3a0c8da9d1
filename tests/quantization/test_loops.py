"""PTQLoop and QATEpochBasedLoop driven by the runner, from config dicts."""
from __future__ import annotations

import torch

from razor_ext.engine.runner import Runner
from razor_ext.quantization import fake_quants
from tests.engine.conftest import small_cfg


def _quant_model(mode, qconfig='int8_per_channel', **kw):
    return dict(type='MMArchitectureQuant', architecture=dict(type='MnistCNN', width=4),
                input_shapes=(1, 1, 28, 28), mode=mode,
                quantizer=dict(type='NativeQuantizer', qconfig=qconfig), **kw)


def test_ptq_loop_calibrates_then_evaluates(tmp_path):
    cfg = small_cfg(tmp_path / 'ptq', model=_quant_model('ptq'),
                    test_dataloader=dict(batch_size=100, dataset=dict(type='EmbeddedDigits', split='test')),
                    test_cfg=dict(type='PTQLoop', calibrate_steps=2,
                                  calibrate_dataloader=dict(batch_size=50, dataset=dict(
                                      type='EmbeddedDigits', split='val'))))
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    assert 'accuracy/top1' in metrics
    assert all(bool(fq.calibrated) and not bool(fq.observer_enabled)
               for _, fq in fake_quants(runner.model))


def test_qat_loop_freezes_observers_and_bn(tmp_path):
    cfg = small_cfg(tmp_path / 'qat', max_epochs=2, model=_quant_model('qat', 'w4a8'),
                    train_cfg=dict(type='QATEpochBasedLoop', max_epochs=2, disable_observer_begin=2,
                                   freeze_bn_begin=2))
    runner = Runner.from_cfg(cfg)
    runner.train()
    fqs = [fq for _, fq in fake_quants(runner.model)]
    assert fqs and all(bool(fq.frozen) for fq in fqs)
    assert all(torch.isfinite(fq.scale).all() for fq in fqs)
