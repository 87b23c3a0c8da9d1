"""The demo NAS stage's search is constrained by latency measured in the deployment runtime
(where installed), and the report's note says so."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from razor_ext.architectures import MnistCNN, SearchableMnistNet
from razor_ext.demo.context import DemoContext
from razor_ext.demo.nas_latency import nas_constraints


def _ctx(runtime):
    data = (torch.zeros(1, 1, 28, 28), torch.zeros(1, dtype=torch.long))
    ctx = DemoContext(Path('.'), True, 0, data, data, data, latency_runtime=runtime)
    ctx.models['teacher'] = MnistCNN(width=16).eval()
    return ctx


@pytest.mark.parametrize('runtime', ['onnxruntime', 'openvino'])
def test_latency_constraint_is_measured_in_the_runtime(runtime):
    if runtime == 'openvino':
        pytest.importorskip('openvino', reason='OpenVINO is optional (pip install openvino)')
    supernet = SearchableMnistNet(width=8, depth=1).eval()
    constraints, estimate, note = nas_constraints(_ctx(runtime), supernet, torch.zeros(2, 1, 28, 28),
                                                  1e9)
    lo, hi = constraints['latency']
    assert lo == 0 and hi > 0 and f'measured in {runtime}' in note
    resources = estimate()
    assert resources['latency'] > 0 and resources['flops'] > 0


def test_flops_only_without_a_runtime():
    constraints, estimate, note = nas_constraints(_ctx(None), SearchableMnistNet(width=8, depth=1),
                                                  torch.zeros(1, 1, 28, 28), 1e9)
    assert set(constraints) == {'flops'} and set(estimate()) == {'flops'} and note == ''
    with pytest.raises(ValueError, match='latency_runtime'):
        nas_constraints(_ctx('tvm'), SearchableMnistNet(width=8, depth=1), torch.zeros(1, 1, 28, 28), 1e9)
