"""``UnitTimer``: a unit's table entry is the time it adds to the chain of units before it
('prefix', OpenVINO's default) or its time alone less the per-call cost ('alone'). Checked
against a runtime whose cost is known exactly: one time unit per ONNX node."""
from __future__ import annotations

import onnx
import pytest
import torch

import razor_ext.joint.deploy as deploy
import razor_ext.joint.latency as latency
import razor_ext.joint.unit_timer as unit_timer
from razor_ext.architectures import SearchableSlimNet
from razor_ext.joint import (JointCompression, UnitTimer, bit_pairs_for, build_latency_table,
                             calibrate_supernet, check_prediction)
from razor_ext.joint.unit_timer import default_context


def _nodes(path) -> float:
    return float(len(onnx.load(str(path)).graph.node))


@pytest.fixture
def node_count_runtime(monkeypatch):
    """Every file 'runs' in as many ms as it has nodes: boundary nodes (an input quantize, an
    output dequantize) cost like any other, as layout reorders do in OpenVINO."""
    monkeypatch.setattr(unit_timer, 'time_onnx', lambda path, *a, **k: _nodes(path))
    monkeypatch.setattr(deploy, 'time_onnx', lambda path, *a, **k: _nodes(path))
    monkeypatch.setattr(latency, 'time_onnx_files', lambda paths, *a, **k: [_nodes(p) for p in paths])
    monkeypatch.setattr(unit_timer, 'time_onnx_rounds',
                        lambda paths, *a, repeats=3, **k: [[_nodes(p)] * repeats for p in paths])


def _space(weight_bits=(8,), act_bits=(8,)):
    torch.manual_seed(0)
    algo = JointCompression(SearchableSlimNet(stem_channels=4, widths=((4, 8), (8,)), strides=(2, 1)),
                            input_shape=(2, 1, 12, 12), weight_bits=weight_bits, act_bits=act_bits)
    calib = [torch.rand(4, 1, 12, 12)]
    calibrate_supernet(algo, calib)
    algo.space.example_inputs = torch.rand(2, 1, 12, 12)
    return algo.space, calib


def test_prefix_entries_telescope_to_the_whole_model(node_count_runtime):
    space, calib = _space()
    table = build_latency_table(space, calib, 'openvino', repeats=3, warmup=0)
    assert table.signature['unit_timing'] == 'prefix/min'
    # the pool has no mutables: measured with the head (the width it pools is in the head's key)
    assert [v for k, v in table.entries.items() if k.startswith('pool|')] == [0.0]
    check = check_prediction(space, table, calib, num_subnets=3, repeats=3, warmup=0)
    assert check.max_error == 0.0, check  # exact: every boundary node cancels in the sum
    alone = build_latency_table(space, calib, 'openvino', repeats=3, warmup=0, context='alone')
    off = check_prediction(space, alone, calib, num_subnets=3, repeats=3, warmup=0)
    assert off.mean_error > 0.05  # alone, each unit pays its own boundary nodes


def test_cached_table_of_another_timing_mode_is_measured_again(node_count_runtime, tmp_path):
    space, calib = _space()
    cache = tmp_path / 'lut.json'
    first = build_latency_table(space, calib, 'openvino', cache, repeats=3, warmup=0, context='alone')
    again = build_latency_table(space, calib, 'openvino', cache, repeats=3, warmup=0, context='alone')
    assert again.entries == first.entries
    prefix = build_latency_table(space, calib, 'openvino', cache, repeats=3, warmup=0)
    assert prefix.signature['unit_timing'] == 'prefix/min' and prefix.entries != first.entries


def test_prefix_overhead_comes_from_the_same_rounds_as_the_entries(node_count_runtime, monkeypatch):
    # an identity timed on its own reads 0.5 ms high (another phase of a shared host); the
    # telescoping sum needs the identity chain of the entries' own rounds
    monkeypatch.setattr(unit_timer, 'time_onnx', lambda path, *a, **k: _nodes(path) + 0.5)
    space, calib = _space()
    table = build_latency_table(space, calib, 'openvino', repeats=3, warmup=0)
    assert table.overhead_ms == 1.0  # the identity model: one Relu node
    assert check_prediction(space, table, calib, num_subnets=3, repeats=3, warmup=0).max_error == 0.0
    alone = build_latency_table(space, calib, 'openvino', repeats=3, warmup=0, context='alone')
    assert alone.overhead_ms == 1.5  # alone: the per-call cost is timed on its own


def test_passes_outvote_a_slow_phase(node_count_runtime, monkeypatch):
    # the host runs 5x slow through the whole second pass, as a shared VM can for minutes
    space, calib = _space()
    one = build_latency_table(space, calib, 'openvino', repeats=3, warmup=0)
    per_pass = sum(1 for k in one.entries if not k.startswith('pool|'))  # pool: measured with head
    calls = []

    def rounds(paths, *a, repeats=3, **k):
        slow = 5.0 if len(calls) // per_pass == 1 else 1.0
        calls.append(slow)
        return [[slow * _nodes(p)] * repeats for p in paths]

    monkeypatch.setattr(unit_timer, 'time_onnx_rounds', rounds)
    table = build_latency_table(space, calib, 'openvino', repeats=3, warmup=0, passes=3)
    assert table.signature['unit_timing'] == 'prefix/min/3 passes'
    assert len(calls) == 3 * per_pass and calls.count(5.0) == per_pass
    assert table.entries == one.entries
    assert check_prediction(space, table, calib, num_subnets=3, repeats=3, warmup=0).max_error == 0.0
    calls.clear()
    calls.extend([1.0] * per_pass)  # a single pass, all of it in the slow phase
    slow = build_latency_table(space, calib, 'openvino', repeats=3, warmup=0)
    assert check_prediction(space, slow, calib, num_subnets=3, repeats=3, warmup=0).max_error > 0.1
    with pytest.raises(ValueError, match='passes'):
        build_latency_table(space, calib, 'openvino', passes=0)


@pytest.mark.parametrize('context', ['prefix', 'alone'])
def test_threads_reach_every_timing_and_the_signature(monkeypatch, context):
    seen = []

    def once(path, *a, threads=None, **k):
        seen.append(threads)
        return _nodes(path)

    monkeypatch.setattr(unit_timer, 'time_onnx', once)
    monkeypatch.setattr(deploy, 'time_onnx', once)
    monkeypatch.setattr(unit_timer, 'time_onnx_rounds', lambda paths, *a, repeats=3, threads=None, **k:
                        seen.append(threads) or [[_nodes(p)] * repeats for p in paths])
    monkeypatch.setattr(latency, 'time_onnx_files', lambda paths, *a, threads=None, **k:
                        seen.append(threads) or [_nodes(p) for p in paths])
    space, calib = _space()
    table = build_latency_table(space, calib, 'openvino', repeats=3, warmup=0, threads=3,
                                context=context)
    assert table.signature['threads'] == 3
    check_prediction(space, table, calib, num_subnets=2, repeats=3, warmup=0)  # the table's
    assert len(seen) > 2 and set(seen) == {3}
    with pytest.raises(ValueError, match='threads'):
        UnitTimer(space, calib, threads=0)


def test_context_holds_the_key_and_fixes_the_rest():
    space, calib = _space(weight_bits=(8, 16), act_bits=(8, 16))
    timer = UnitTimer(space, calib, 'openvino')
    # the unit before is part of the key (its output and a float <-> int8 boundary cost)
    assert timer.context_groups['blocks.1'] == ['blocks.0.act_bits', 'blocks.0.op',
                                                'blocks.0.weight_bits']  # its width: own key
    assert 'stem' not in timer.context_groups and 'pool' not in timer.context_groups
    assert set(timer.context_groups['head']) == {'blocks.1.act_bits', 'blocks.1.op',
                                                 'blocks.1.weight_bits'}
    space.set_choices({**space.max_choices, 'blocks.0.weight_bits': 8, 'blocks.0.act_bits': 16,
                       'blocks.1.weight_bits': 8, 'blocks.1.act_bits': 8})
    ctx = timer.context_choices('blocks.1')
    assert ctx['blocks.0.width'] == 8  # the unit's input width is in its key: kept
    assert ctx['blocks.0.op'] == space.current_choices['blocks.0.op']  # the unit before: kept
    head = timer.context_choices('head')
    assert head['blocks.0.op'] == space.min_choices['blocks.0.op']  # not in the key: smallest
    assert (ctx['blocks.0.weight_bits'], ctx['blocks.0.act_bits']) == (8, 16)  # in the key
    assert (ctx['blocks.1.weight_bits'], ctx['blocks.1.act_bits']) == (8, 8)  # its own
    # the chain before the unit before runs at that unit's bit widths
    assert (ctx['stem.weight_bits'], ctx['stem.act_bits']) == (8, 16)


def test_bad_arguments():
    space, calib = _space()
    assert default_context('openvino') == 'prefix' and default_context('onnxruntime') == 'alone'
    with pytest.raises(ValueError, match='context'):
        UnitTimer(space, calib, context='inside')
    with pytest.raises(ValueError, match='stat'):
        UnitTimer(space, calib, stat='mean')
    with pytest.raises(ValueError, match='calibration'):
        UnitTimer(space, [])
    with pytest.raises(KeyError, match='unit'):
        UnitTimer(space, calib)('nowhere')


def test_bit_pairs_keep_samples_and_the_table_to_what_the_runtime_accelerates(node_count_runtime):
    space, calib = _space(weight_bits=(4, 8, 16), act_bits=(8, 16))
    space.bit_pairs = bit_pairs_for('openvino')
    pairs = {(8, 8), (16, 16)}
    for _ in range(20):
        c = space.sample_choices()
        assert {(c[g], c[g.replace('weight', 'act')]) for g in c if g.endswith('.weight_bits')} <= pairs
    # a pair outside is tied by its weight bits (4 has none: the first pair)
    space.set_choices({**space.max_choices, 'stem.weight_bits': 16, 'stem.act_bits': 8,
                       'head.weight_bits': 4, 'head.act_bits': 16})
    c = space.current_choices
    assert (c['stem.weight_bits'], c['stem.act_bits']) == (16, 16)
    assert (c['head.weight_bits'], c['head.act_bits']) == (8, 8)
    table = build_latency_table(space, calib, 'openvino', repeats=3, warmup=0)
    # stem: 2 pairs instead of 3 x 2 combinations
    assert sum(k.startswith('stem|') for k in table.entries) == 2
    with pytest.raises(ValueError, match='bit pairs'):
        space.bit_pairs = ((2, 2),)
