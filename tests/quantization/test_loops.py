"""PTQLoop and QATEpochBasedLoop driven by the runner, from config dicts."""
from __future__ import annotations

import pytest
import torch

from razor_ext.data import EmbeddedDigits
from razor_ext.engine.loops.quantization_loops import QATEpochBasedLoop
from razor_ext.engine.runner import Runner
from razor_ext.quantization import enable_fake_quants, fake_quants
from tests.engine.conftest import small_cfg


def _quant_model(mode, qconfig='int8_per_channel', fold_bn=True, **kw):
    return dict(type='MMArchitectureQuant', architecture=dict(type='MnistCNN', width=4),
                input_shapes=(1, 1, 28, 28), mode=mode,
                quantizer=dict(type='NativeQuantizer', qconfig=qconfig, fold_bn=fold_bn), **kw)


def test_ptq_loop_calibrates_then_evaluates(tmp_path):
    cfg = small_cfg(tmp_path / 'ptq', model=_quant_model('ptq'),
                    test_dataloader=dict(batch_size=100, dataset=dict(type='EmbeddedDigits', split='test')),
                    test_cfg=dict(type='PTQLoop', calibrate_steps=2,
                                  calibrate_dataloader=dict(batch_size=50, dataset=dict(
                                      type='EmbeddedDigits', split='val'))))
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    assert all(bool(fq.calibrated) and not bool(fq.observer_enabled)
               for _, fq in fake_quants(runner.model))
    model = runner.model.eval()
    fqs = dict(fake_quants(model))
    # Weight observers saw the weights themselves: per output channel min and max.
    weights = [name for name in fqs if name.endswith('.weight_fake_quant')]
    assert len(weights) == 4
    for name in weights:
        w = model.get_submodule(name.rsplit('.', 1)[0]).weight.detach()
        obs = fqs[name].activation_post_process
        torch.testing.assert_close(obs.min_val, w.flatten(1).amin(1), rtol=0, atol=0)
        torch.testing.assert_close(obs.max_val, w.flatten(1).amax(1), rtol=0, atol=0)
    # The input observer saw exactly calibrate_steps=2 batches of 50 val images, in order.
    val = EmbeddedDigits('mnist5k', 'val', seed=0).images[:100]
    obs = fqs['architecture.x_act_fake_quant'].activation_post_process
    assert float(obs.min_val) == float(val.min()) and float(obs.max_val) == float(val.max())
    # ... and so did the logits' observer: the float logits (calibration runs with fake quant
    # off) of those 100 images, not 50 or 150.
    enable_fake_quants(model, False)
    with torch.no_grad():
        logits = model.architecture(val)
    enable_fake_quants(model, True)
    head = fqs['architecture.head_act_fake_quant'].activation_post_process
    torch.testing.assert_close(head.min_val, logits.min())
    torch.testing.assert_close(head.max_val, logits.max())
    scale = float(fqs['architecture.x_act_fake_quant'].scale)
    assert scale == pytest.approx((float(val.max()) - min(float(val.min()), 0.0)) / 255, rel=1e-5)
    # The metric is the quantized model's accuracy on the test split, recomputed here.
    test = EmbeddedDigits('mnist5k', 'test', seed=0)
    with torch.no_grad():
        predicted = model.architecture(test.images).argmax(1)
    assert metrics['accuracy/top1'] == pytest.approx(100.0 * float((predicted == test.labels).float().mean()))


def test_qat_loop_freezes_observers_and_bn(tmp_path, monkeypatch):
    cfg = small_cfg(tmp_path / 'qat', max_epochs=2, model=_quant_model('qat', 'w4a8', fold_bn=False),
                    train_cfg=dict(type='QATEpochBasedLoop', max_epochs=2, disable_observer_begin=2,
                                   freeze_bn_begin=2))
    runner = Runner.from_cfg(cfg)
    # BN stays a module (fold_bn=False), so that freezing its statistics is observable.
    # What each epoch did to the BN statistics, the qparams and the weights.
    snapshots = []
    run_epoch = QATEpochBasedLoop.run_epoch

    def state(model):
        bn = [t.clone() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)
              for t in (m.running_mean, m.running_var)]
        qp = [t.detach().clone() for _, fq in fake_quants(model) for t in (fq.scale, fq.zero_point)]
        w = [p.detach().clone() for p in model.parameters()]
        return bn, qp, w

    def recording(loop):
        before = state(loop.runner.model)
        run_epoch(loop)
        bn_training = [m.training for m in loop.runner.model.modules()
                       if isinstance(m, torch.nn.BatchNorm2d)]
        snapshots.append((before, state(loop.runner.model), bn_training))

    monkeypatch.setattr(QATEpochBasedLoop, 'run_epoch', recording)
    runner.train()
    assert len(snapshots) == 2

    def same(a, b):
        return all(torch.equal(x, y) for x, y in zip(a, b))

    (bn0, qp0, w0), (bn1, qp1, w1), _ = snapshots[0]
    assert bn0 and not same(bn0, bn1) and not same(qp0, qp1) and not same(w0, w1)  # epoch 1 observes
    (bn0, qp0, w0), (bn1, qp1, w1), bn_training = snapshots[1]
    assert same(bn0, bn1), 'BN statistics moved in the frozen epoch'
    assert same(qp0, qp1), 'qparams moved after disable_observer_begin'
    assert not same(w0, w1), 'the frozen epoch must still train the weights'
    assert not any(bn_training)
    fqs = [fq for _, fq in fake_quants(runner.model)]
    assert fqs and all(bool(fq.frozen) for fq in fqs)
    assert all(torch.isfinite(fq.scale).all() for fq in fqs)
