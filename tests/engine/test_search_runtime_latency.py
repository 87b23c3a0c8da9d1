"""A search's latency constraint measured in a deployment runtime: ``latency_runtime`` in the
estimator config of ``EvolutionSearchLoop`` becomes export's measuring callable."""
from __future__ import annotations

import torch
from torch import nn

from razor_ext.engine.loops.search_loops import with_runtime_latency
from razor_ext.registry import TASK_UTILS


def test_latency_runtime_key_builds_an_estimator_timing_in_that_runtime():
    cfg = with_runtime_latency(dict(type='ResourceEstimator', input_shape=(1, 3, 8, 8), repeats=2,
                                    warmup=0, latency_runtime='onnxruntime', latency_threads=1))
    est = TASK_UTILS.build(cfg)
    out = est.estimate(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()))
    assert out['latency_backend'] == 'onnxruntime' and out['latency'] > 0
    assert est.latency_meter.measure_fn is not None
    plain = with_runtime_latency(dict(type='ResourceEstimator'))
    assert 'latency_measure' not in plain  # untouched without the key
    assert torch.get_num_threads() >= 1
