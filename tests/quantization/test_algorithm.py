"""MMArchitectureQuant from config dicts: PTQ calibration, QAT with freeze epochs, LSQ, export."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from razor_ext.quantization import MMArchitectureQuant
from razor_ext.quantization import fake_quants, load
from razor_ext.registry import MODELS


def _arch():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 10))


def _data(n=4):
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g))
            for _ in range(n)]


def test_ptq_from_config_calibrates_and_exports(tmp_path):
    algo = MODELS.build(dict(type='MMArchitectureQuant', architecture=_arch(), input_shapes=(1, 1, 8, 8),
                             quantizer=dict(type='NativeQuantizer', qconfig='int8_per_channel')))
    assert not algo.training
    algo.calibrate(_data())
    assert algo(_data()[0][0], mode='predict').shape == (16,)
    algo.export_onnx(tmp_path / 'a.onnx')
    algo.save_quantized(tmp_path / 'a.pt')
    x = _data()[0][0]
    torch.testing.assert_close(load(_arch(), tmp_path / 'a.pt')(x), algo(x))


def test_qat_freeze_schedule():
    algo = MMArchitectureQuant(_arch(), quantizer=dict(type='NativeQuantizer', qconfig='w4a8',
                                                       fold_bn=False),
                               input_shapes=(1, 1, 8, 8), mode='qat', freeze_observer_epoch=1,
                               freeze_bn_epoch=1)
    assert algo.training and isinstance(algo.architecture.get_submodule('1'), nn.BatchNorm2d)
    opt = torch.optim.SGD(algo.parameters(), lr=0.01)
    for epoch in range(2):
        algo.on_train_epoch_start(epoch)
        algo.train()
        for batch in _data(2):
            log = algo.train_step(batch, opt)
            assert 'loss' in log
        if epoch == 0:  # observers still follow the data
            assert all(bool(fq.observer_enabled) for _, fq in fake_quants(algo))
    assert all(bool(fq.frozen) for _, fq in fake_quants(algo))
    bn = algo.architecture.get_submodule('1')
    assert not bn.training  # frozen BN stays in eval mode through train()
    stats = bn.running_mean.clone()
    algo.train_step(_data(1)[0], opt)
    assert torch.equal(bn.running_mean, stats)


def test_lsq_learns_scales():
    algo = MMArchitectureQuant(_arch(), quantizer=dict(type='NativeQuantizer', qconfig='lsq_w4a8'),
                               input_shapes=(1, 1, 8, 8), mode='qat')
    algo.calibrate(_data())
    scales = {n: p.detach().clone() for n, p in algo.named_parameters() if n.endswith('.scale')}
    assert scales
    opt = torch.optim.Adam(algo.parameters(), lr=1e-2)
    for batch in _data():
        algo.train_step(batch, opt)
    assert any(not torch.equal(p.detach(), scales[n]) for n, p in algo.named_parameters() if n in scales)


def test_bad_config():
    with pytest.raises(ValueError, match='mode'):
        MMArchitectureQuant(_arch(), input_shapes=(1, 1, 8, 8), mode='fp8')
    with pytest.raises(KeyError):
        MMArchitectureQuant(_arch(), quantizer=dict(type='NoSuchQuantizer'), input_shapes=(1, 1, 8, 8))
