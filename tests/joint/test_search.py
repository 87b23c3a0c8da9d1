"""``search_compression``: the search honours the latency budget, writes the subnet (ops, widths,
bit widths), the QDQ ONNX and the Pareto plot, and resumes; the table's prediction of
whole-model latency (within 20% behind RAZOR_EXT_FULL_TESTS=1)."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from razor_ext.architectures import SearchableSlimNet
from razor_ext.estimators import LatencyTable
from razor_ext.export import onnxruntime_outputs
from razor_ext.joint import (JointCompression, bit_pairs_for, build_latency_table,
                             calibrate_supernet, check_prediction, search_compression)
from razor_ext.registry import MODELS

FULL = os.environ.get('RAZOR_EXT_FULL_TESTS') == '1'


def _algo():
    torch.manual_seed(0)
    return JointCompression(SearchableSlimNet(stem_channels=4, widths=((4, 8), (8, 16)), strides=(2, 2)),
                            input_shape=(1, 1, 16, 16))


def _fake_table(space):
    """Deterministic unit costs: width x (1 float, 0.5 int8, 0.4 int4), so the budget binds."""
    def measure(unit):
        c = space.current_choices
        if not unit.startswith('blocks.'):
            return 0.1
        factor = {16: 1.0, 8: 0.5, 4: 0.4}[c[f'{unit}.weight_bits']]
        return c[f'{unit}.width'] * factor * (2 if c[f'{unit}.op'] == 'conv3x3' else 1)
    table = LatencyTable('onnxruntime', space.units, {'cpu': 'fake'})
    table.fill(space.supernet, measure, overhead_ms=0.05)
    return table


def _score(model):
    # bigger (wider, more bits, conv3x3) scores higher, so the budget is what stops the search
    c = model_space.current_choices
    return sum(v for k, v in c.items() if k.endswith(('width', 'bits'))) + \
        sum(3 for k, v in c.items() if k.endswith('.op') and v == 'conv3x3')


model_space = None


def _run(algo, table, tmp_path, budget, train_fn=None, **kw):
    global model_space
    model_space = algo.space
    calib = [torch.rand(4, 1, 16, 16) for _ in range(2)]
    return search_compression(algo, train_fn, _score, example_inputs=torch.rand(1, 1, 16, 16),
                              calib=calib, latency_budget_ms=budget, table=table, work_dir=tmp_path,
                              num_candidates=6, top_k=3, max_epochs=2, final_candidates=2,
                              timing_repeats=3, **kw)


def test_search_honours_the_latency_budget_and_writes_the_deployable(tmp_path):
    algo = _algo()
    calibrate_supernet(algo, [torch.rand(4, 1, 16, 16)])
    table = _fake_table(algo.space)
    algo.space.set_choices(algo.space.max_choices)
    largest = table.predict(algo.architecture)
    budget = 0.5 * largest
    steps = []
    res = _run(algo, table, tmp_path, budget, train_fn=lambda a: steps.append(a))
    assert steps == [algo]  # trained once
    predicted = [c.resources['latency'] for c in res.search.candidates]
    assert predicted and max(predicted) <= budget < largest
    assert res.best.predicted_ms <= budget and res.best.choices in [f.choices for f in res.finals]
    # the subnet file records ops, widths and bit widths; loading it sets the best choices
    text = res.subnet_path.read_text()
    assert 'blocks.0.weight_bits' in text and 'blocks.0.width' in text and 'blocks.0.op' in text
    algo.space.set_choices(algo.space.min_choices)
    assert algo.space.load_subnet(res.subnet_path) == res.best.choices
    x = torch.rand(2, 1, 16, 16)
    assert onnxruntime_outputs(res.onnx_path, [x])[0].shape == (2, 10)
    assert res.plot_path.stat().st_size > 0 and res.front
    # uniform int8: every candidate holds every bit group at 8
    res8 = _run(algo, table, tmp_path, budget, uniform_bits=(8, 8))
    assert all(c.choices[g] == 8 for c in res8.search.candidates for g in algo.space.bit_groups)


def test_search_resumes_from_its_work_dir(tmp_path):
    algo = _algo()
    calibrate_supernet(algo, [torch.rand(4, 1, 16, 16)])
    table = _fake_table(algo.space)
    first = _run(algo, table, tmp_path, 20.0, train_fn=lambda a: None)
    calls = []
    again = _run(_algo(), table, tmp_path, 20.0, train_fn=lambda a: calls.append(a))
    assert calls == []  # the saved weights were loaded, not trained again
    assert again.best.choices == first.best.choices
    assert [c.choices for c in again.search.candidates] == [c.choices for c in first.search.candidates]


def test_joint_search_starts_from_the_int8_search(tmp_path):
    algo = _algo()
    calibrate_supernet(algo, [torch.rand(4, 1, 16, 16)])
    table = _fake_table(algo.space)
    int8 = _run(algo, table, tmp_path / 'int8', 20.0, uniform_bits=(8, 8))
    start = [c.choices for c in int8.search.top_k]
    joint = _run(algo, table, tmp_path / 'joint', 20.0, init_candidates=start)
    assert [c.choices for c in joint.search.candidates[:len(start)]] == start
    assert joint.search.best_score >= int8.search.best_score


def test_bad_budget_raises():
    with pytest.raises(ValueError, match='latency_budget_ms'):
        search_compression(_algo(), None, _score, example_inputs=torch.rand(1, 1, 16, 16),
                           calib=[torch.rand(1, 1, 16, 16)], latency_budget_ms=0)
    with pytest.raises(ValueError, match='final_sessions'):
        search_compression(_algo(), None, _score, example_inputs=torch.rand(1, 1, 16, 16),
                           calib=[torch.rand(1, 1, 16, 16)], latency_budget_ms=1.0,
                           final_sessions=0)
    with pytest.raises(ValueError, match='threads'):
        search_compression(_algo(), None, _score, example_inputs=torch.rand(1, 1, 16, 16),
                           calib=[torch.rand(1, 1, 16, 16)], latency_budget_ms=1.0, threads=0)


def test_algorithm_builds_from_config():
    algo = MODELS.build(dict(type='JointCompression', input_shape=(1, 1, 28, 28),
                             architecture=dict(type='SearchableSlimNet', widths=((4, 8),), strides=(2,)),
                             weight_bits=(4, 8), act_bits=(8,)))
    assert {'blocks.0.weight_bits', 'blocks.0.width', 'blocks.0.op'} <= set(algo.space.sample_choices())
    opt = torch.optim.SGD(algo.parameters(), lr=0.01)
    log = algo.train_step((torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])), opt)
    assert np.isfinite(log['max_subnet.loss']) and 'min_subnet.loss_kd' in log


def _prediction_space(widths, batch, hw, act_bits=(8, 16), runtime='onnxruntime'):
    torch.manual_seed(0)
    algo = JointCompression(SearchableSlimNet(stem_channels=16, widths=widths, strides=(2, 1)),
                            input_shape=(batch, 1, hw, hw), weight_bits=(8, 16), act_bits=act_bits)
    calib = [torch.rand(batch, 1, hw, hw)]
    calibrate_supernet(algo, calib)
    algo.space.example_inputs = torch.rand(batch, 1, hw, hw)
    algo.space.bit_pairs = bit_pairs_for(runtime)  # the space search_compression searches there
    return algo.space, calib


def test_latency_table_predicts_whole_model_latency():
    # CI: a small space, few repeats on a shared machine: a generous bound (the 20% is
    # checked with RAZOR_EXT_FULL_TESTS=1 below)
    space, calib = _prediction_space(((8, 16), (16,)), 4, 16, act_bits=(8,))
    table = build_latency_table(space, calib, 'onnxruntime', repeats=10, warmup=3)
    check = check_prediction(space, table, calib, num_subnets=3, repeats=10, warmup=3)
    assert all(p > 0 for p in check.predicted) and check.mean_error < 1.0, check


@pytest.mark.skipif(not FULL, reason='timing check of the latency table: RAZOR_EXT_FULL_TESTS=1')
@pytest.mark.parametrize('runtime', ['onnxruntime', 'openvino'])
def test_latency_table_prediction_within_20_percent(runtime):
    # each runtime's default unit timing: units alone in onnxruntime, by what they add to the
    # chain before them in OpenVINO (its fusions and output reorders); minimum of the runs.
    # One thread: on a 2-vCPU VM one file's minimum of 300 runs at 2 threads read 0.54-0.99 ms
    # from session to session (both runtimes), past the 20% checked here; at 1 thread 0.78-0.85
    if runtime == 'openvino':
        pytest.importorskip('openvino', reason='OpenVINO is optional (pip install openvino)')
    space, calib = _prediction_space(((32, 64), (64, 128)), 8, 28, runtime=runtime)
    # minimum of 300 runs per file: robust to other processes on a shared host; three passes,
    # each entry their median: a slow phase of the host during one pass lifted a whole table
    table = build_latency_table(space, calib, runtime, repeats=300, warmup=20, threads=1, passes=3)
    assert table.signature['threads'] == 1
    # each subnet timed in 3 fresh sessions spread over three passes (the table's thread
    # count), their minimum kept: a slow session or phase only adds time
    check = check_prediction(space, table, calib, num_subnets=6, repeats=300, warmup=20,
                             sessions=3)
    print(runtime, check)
    assert check.mean_error <= 0.2, check
