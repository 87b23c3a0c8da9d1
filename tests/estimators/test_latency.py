"""Latency is measured (eager or onnxruntime), cached per subnet, and says which backend ran."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from razor_ext.estimators.latency import LatencyMeter, measure_latency
from tests.nas.planted import FakeMutator


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))


@pytest.mark.parametrize('backend', ['torch', 'onnxruntime'])
def test_measure_latency_records_backend(backend):
    net = _net().train()
    r = measure_latency(net, (2, 3, 8, 8), backend=backend, warmup=1, repeats=3)
    assert r.backend == backend and r.repeats == 3 and r.warmup == 1
    assert 0 < r.min_ms <= r.median_ms and r.mean_ms >= r.min_ms
    assert net.training  # mode restored


def test_meter_caches_by_subnet_key():
    class Supernet(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.mutator = _net(), FakeMutator()

        def forward(self, x):
            return self.body(x)

    net = Supernet()
    meter = LatencyMeter((1, 3, 8, 8), warmup=0, repeats=2)
    a = meter.estimate(net)
    assert a['latency_backend'] == 'torch' and a['latency'] > 0
    assert meter.estimate(net) == a and len(meter) == 1  # same subnet: cached
    net.mutator.set_choices({k: 1 for k in net.mutator.current_choices})
    meter.estimate(net)
    assert len(meter) == 2  # a new subnet is measured


def test_bad_backend():
    with pytest.raises(ValueError, match='backend'):
        measure_latency(_net(), (1, 3, 8, 8), backend='tensorrt')
    with pytest.raises(ValueError, match='repeats'):
        measure_latency(_net(), (1, 3, 8, 8), repeats=0)


def test_meter_takes_a_measuring_callable_of_the_deployment_runtime():
    """A latency constraint measured in onnxruntime / OpenVINO: export's callable, passed in."""
    from razor_ext.estimators import ResourceEstimator
    from razor_ext.export import latency_measure

    calls = []

    def measure(model, shape):
        calls.append(shape)
        assert not model.training  # timed as deployed
        return latency_measure('onnxruntime', threads=1, warmup=0, repeats=2)(model, shape)

    meter = LatencyMeter((1, 3, 8, 8), measure=measure)
    r = meter.measure(_net().train(), key='a')
    assert r.backend == 'onnxruntime' and r.threads == 1 and r.repeats == 2 and r.median_ms > 0
    assert meter.measure(_net(), key='a') is r and calls == [(1, 3, 8, 8)]  # cached by key
    est = ResourceEstimator((1, 3, 8, 8), measure_latency=True, latency_measure=measure)
    out = est.estimate(_net())
    assert out['latency_backend'] == 'onnxruntime' and out['latency'] > 0
    with pytest.raises(TypeError, match='callable'):
        LatencyMeter((1, 3, 8, 8), measure=3)
    with pytest.raises(TypeError, match='median_ms'):
        LatencyMeter((1, 3, 8, 8), measure=lambda m, s: 1.0).measure(_net())
