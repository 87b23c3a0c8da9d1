import random

import pytest
import torch
from torch import nn

from razor_ext.architectures import SearchableMnistNet
from razor_ext.nas import NasMutator
from razor_ext.estimators import ResourceEstimator
from razor_ext.registry import TASK_UTILS
from razor_ext.supernet.fix_subnet import export_fix_subnet


def test_counts_grouped_and_depthwise_convs_and_functional_matmul():
    est = ResourceEstimator(input_shape=(1, 8, 10, 10), units=None)
    dense = est.estimate(nn.Conv2d(8, 8, 3, padding=1, bias=False))
    depthwise = est.estimate(nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False))
    assert dense == {'flops': 2 * 8 * 8 * 9 * 100, 'params': 8 * 8 * 9}
    assert depthwise == {'flops': 2 * 8 * 9 * 100, 'params': 8 * 9}

    class Attn(nn.Module):
        def forward(self, x):
            q = x.flatten(2)
            return torch.softmax(q.transpose(1, 2) @ q, -1)

    assert est.estimate(Attn())['flops'] == 2 * 100 * 100 * 8


def test_supernet_is_counted_by_its_current_subnet():
    model = SearchableMnistNet(width=4, depth=1)
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    est = TASK_UTILS.build(dict(type='ResourceEstimator', input_shape=(1, 1, 28, 28), units=None))
    random.seed(0)
    for _ in range(3):
        mutator.set_choices(mutator.sample_choices())
        got = est.estimate(model)
        _, static = export_fix_subnet(model, slice_weight=True)
        assert got['params'] == sum(p.numel() for p in static.parameters())
        assert got == est.estimate(static)
    mutator.set_min_choices()
    small = est.estimate(model)
    mutator.set_max_choices()
    assert est.estimate(model)['flops'] > small['flops']


def test_units_and_latency():
    est = ResourceEstimator(input_shape=(1, 4), units='M', measure_latency=True, repeats=3)
    out = est.estimate(nn.Linear(4, 1000))
    assert out['params'] == pytest.approx(5e-3) and out['latency'] > 0
    with pytest.raises(ValueError, match='units'):
        ResourceEstimator(units='K')
    with pytest.raises(ValueError, match='backend'):
        ResourceEstimator(latency_backend='tensorrt')


@pytest.mark.parametrize('backend', ['torch', 'onnxruntime'])
def test_latency_is_measured_once_per_subnet_and_names_its_backend(backend):
    torch.manual_seed(0)
    supernet = SearchableMnistNet(width=4, depth=1).eval()
    mutator = NasMutator()
    mutator.prepare_from_supernet(supernet)
    est = ResourceEstimator((1, 1, 28, 28), measure_latency=True, warmup=0, repeats=2,
                            latency_backend=backend)
    mutator.set_max_choices()
    first = est.estimate(supernet)
    assert first['latency'] > 0 and first['latency_backend'] == backend
    assert est.estimate(supernet)['latency'] == first['latency'] and len(est.latency_meter) == 1
    mutator.set_min_choices()
    est.estimate(supernet)
    assert len(est.latency_meter) == 2  # another subnet: measured, not assumed
