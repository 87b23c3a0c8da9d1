"""``LatencyTable``: keys in context, overhead-corrected sums, atomic cache per runtime and host,
``ResourceEstimator`` reading it, and the runtime timers."""
from __future__ import annotations

import json
import os
import tempfile

import pytest
import torch
from torch import nn

from razor_ext.estimators import (LatencyTable, ResourceEstimator, cpu_signature, time_onnx,
                                  time_onnx_files)
from razor_ext.supernet.dynamic_ops import DynamicConv2d
from razor_ext.supernet.mutables import OneShotMutableOP, OneShotMutableValue


def _supernet():
    width = OneShotMutableValue([4, 8], alias='w0')
    c0 = DynamicConv2d(1, 8, 3, padding=1)
    c0.register_mutable_attr('out_channels', width)
    c1 = DynamicConv2d(8, 8, 3, padding=1)
    c1.register_mutable_attr('in_channels', width)
    op = OneShotMutableOP({'conv': nn.Sequential(c1), 'skip': nn.Identity()}, alias='op1')
    return nn.Sequential(nn.Sequential(c0), op)


def _fake_ms(net):
    # deterministic "timings": unit 0 costs its width, unit 1 its width x 10 when a conv
    def measure(unit):
        w = net[0][0].get_mutable_attr('out_channels').current_choice
        return float(w) if unit == '0' else (10.0 * w if net[1].current_choice == 'conv' else 0.0)
    return measure


def test_keys_hold_the_context_and_the_sum_predicts():
    net = _supernet()
    table = LatencyTable('onnxruntime', ['0', '1'], {'cpu': 'test'})
    assert table.fill(net, _fake_ms(net), overhead_ms=0.5) == 2 + 4  # unit 1 sees the input width
    assert table.fill(net, _fake_ms(net)) == 0  # nothing missing: nothing measured again
    width = net[0][0].get_mutable_attr('out_channels')
    for w, op, expected in ((4, 'conv', 0.5 + 4 + 40), (8, 'conv', 0.5 + 8 + 80), (8, 'skip', 8.5)):
        width.current_choice, net[1].current_choice = w, op
        assert table.predict(net) == pytest.approx(expected)
    assert any('"w0": 4' in k and k.startswith('1|') for k in table.entries)


def test_fill_restores_choices_and_predict_names_missing_entries():
    net = _supernet()
    net[1].current_choice = 'skip'
    table = LatencyTable('onnxruntime', ['0', '1'])
    with pytest.raises(KeyError, match='no entry'):
        table.predict(net)
    table.fill(net, _fake_ms(net))
    assert net[1].current_choice == 'skip'


def test_save_load_and_cache_reject_another_host(tmp_path):
    net = _supernet()
    sig = {'cpu': 'A', 'flags': ['avx2'], 'threads': 2}
    table = LatencyTable('openvino', ['0', '1'], sig)
    table.fill(net, _fake_ms(net), overhead_ms=0.25)
    path = table.save(tmp_path / 'lut.json')
    assert json.loads(path.read_text())['runtime'] == 'openvino'
    again = LatencyTable.load(path, 'openvino', sig)
    assert again.entries == table.entries and again.predict(net) == table.predict(net)
    with pytest.raises(ValueError, match='openvino table'):
        LatencyTable.load(path, 'onnxruntime')
    with pytest.raises(ValueError, match='measured on'):
        LatencyTable.load(path, 'openvino', {**sig, 'threads': 4})
    assert len(LatencyTable.cached(path, 'openvino', ['0', '1'], sig)) == len(table)
    assert len(LatencyTable.cached(path, 'openvino', ['0', '1'], {**sig, 'cpu': 'B'})) == 0
    assert len(LatencyTable.cached(path, 'openvino', ['0'], sig)) == 0


def test_resource_estimator_reads_the_table():
    net = _supernet()
    table = LatencyTable('onnxruntime', ['0', '1'])
    table.fill(net, _fake_ms(net), overhead_ms=1.0)
    est = ResourceEstimator(input_shape=(1, 1, 8, 8), latency_table=table)
    net[1].current_choice = 'conv'
    out = est.estimate(net)
    assert out['latency'] == pytest.approx(1.0 + 8 + 80)
    assert out['latency_backend'] == 'onnxruntime (table)' and out['flops'] > 0


def test_table_needs_units():
    with pytest.raises(ValueError, match='unit'):
        LatencyTable('onnxruntime', [])


def test_cpu_signature_names_the_host():
    sig = cpu_signature(threads=3)
    assert sig['threads'] == 3 and isinstance(sig['cpu'], str) and isinstance(sig['flags'], list)


@pytest.mark.parametrize('runtime', ['onnxruntime', 'openvino'])
def test_time_onnx_in_each_runtime(runtime):
    if runtime == 'openvino':
        pytest.importorskip('openvino', reason='OpenVINO is optional (pip install openvino)')
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'm.onnx')
        torch.onnx.export(nn.Conv2d(1, 2, 3), (torch.randn(1, 1, 8, 8),), path, dynamo=False)
        assert time_onnx(path, (1, 1, 8, 8), runtime, warmup=1, repeats=2) > 0
        with pytest.raises(ValueError, match='runtime'):
            time_onnx(path, (1, 1, 8, 8), 'tvm')
        with pytest.raises(ValueError, match='repeats'):
            time_onnx(path, (1, 1, 8, 8), runtime, repeats=0)
        with pytest.raises(ValueError, match='sessions'):
            time_onnx(path, (1, 1, 8, 8), runtime, sessions=0)
        assert time_onnx(path, (1, 1, 8, 8), runtime, warmup=0, repeats=2, sessions=2) > 0


def _fake_sessions(monkeypatch, costs):
    """A fake clock: every call of the i-th session opened takes ``costs[i]`` ms."""
    from razor_ext.estimators import runtime_timing
    clock, opened = [0.0], []

    def runner(path, runtime, threads=None):
        cost = costs[len(opened)]
        opened.append(path)

        def run(x):
            clock[0] += cost / 1e3
        return run

    monkeypatch.setattr(runtime_timing, 'runtime_runner', runner)
    monkeypatch.setattr(runtime_timing.time, 'perf_counter', lambda: clock[0])
    return opened


def test_time_onnx_takes_its_stat_over_fresh_sessions(monkeypatch):
    # one session runs slow throughout: the minimum (the uncontended time) or the median of
    # the three sessions, never their mean
    opened = _fake_sessions(monkeypatch, [1.5, 9.0, 2.0] * 2)
    assert time_onnx('m.onnx', (1, 4), warmup=1, repeats=3, stat='min', sessions=3) == pytest.approx(1.5)
    assert time_onnx('m.onnx', (1, 4), warmup=1, repeats=3, stat='median', sessions=3) == pytest.approx(2.0)
    assert len(opened) == 6


def test_time_onnx_files_spreads_the_sessions_over_passes(monkeypatch):
    # a slow phase of the host spans two consecutive sessions: timed back to back, one file
    # would get both; in passes, each file gets one
    opened = _fake_sessions(monkeypatch, [1.0, 9.0, 9.0, 2.0, 1.0, 2.0])
    ms = time_onnx_files(['a.onnx', 'b.onnx'], (1, 4), warmup=0, repeats=2, stat='median', sessions=3)
    assert opened == ['a.onnx', 'b.onnx'] * 3 and ms == pytest.approx([1.0, 2.0])
