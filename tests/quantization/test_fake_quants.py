"""Fake quants: values, switches, freeze, LSQ gradients, and scales that cannot drift on export."""
from __future__ import annotations

import onnx
import pytest
import torch
from onnx import numpy_helper
from torch import nn

from razor_ext.quantization.fake_quantize import FakeQuantize, LearnableFakeQuantize, fake_quantize, lsq_fake_quantize
from razor_ext.quantization import calibrate, export_onnx, fake_quants, prepare


def test_fake_quantize_values_by_hand_and_round_half_even():
    x = torch.tensor([0.25, 0.75, -3.0, 9.0, 1.25])
    # x / 0.5 = 0.5, 1.5, -6, 18, 2.5 -> 0, 2, -4 (clamped), 3 (clamped), 2
    assert fake_quantize(x, 0.5, 0, -4, 3).tolist() == [0.0, 1.0, -2.0, 1.5, 1.0]
    per_ch = fake_quantize(torch.tensor([[1.0, 2.0], [1.0, 2.0]]), torch.tensor([1.0, 0.5]),
                           torch.tensor([0, 1]), 0, 3, axis=0)
    assert per_ch.tolist() == [[1.0, 2.0], [1.0, 1.0]]


def test_fake_quantize_straight_through_gradient():
    x = torch.tensor([0.2, 5.0, -5.0], requires_grad=True)
    fake_quantize(x, 0.5, 0, -4, 3).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 0.0]


def test_lsq_matches_fake_quantize_values():
    x = torch.randn(4, 6)
    scale, zp = torch.rand(4) + 0.05, torch.tensor([0.0, 1.0, 2.0, 3.0])
    got = lsq_fake_quantize(x, scale, zp, 0, 15, axis=0)
    want = fake_quantize(x, scale, zp.int(), 0, 15, axis=0)
    torch.testing.assert_close(got, want)


def test_bad_range_raises():
    with pytest.raises(ValueError, match='quant_min'):
        fake_quantize(torch.ones(2), 1.0, 0, 3, 3)
    with pytest.raises(ValueError, match='quant_min'):
        FakeQuantize(quant_min=2, quant_max=1)


def test_switches_are_separate():
    fq = FakeQuantize(quant_min=0, quant_max=255)
    x = torch.tensor([0.0, 2.55])
    fq.disable_fake_quant()
    assert torch.equal(fq(torch.tensor([0.0, 1.003])), torch.tensor([0.0, 1.003]))  # identity, observed
    fq(x)
    fq.enable_fake_quant().disable_observer()
    assert fq(torch.tensor([1.003])).item() == pytest.approx(1.0)
    before = fq.scale.clone()
    fq(torch.tensor([100.0]))  # not observed
    assert torch.equal(fq.scale, before)


def test_fake_quant_before_calibration_raises_naming_the_module():
    fq = FakeQuantize()
    fq.module_name = 'layer1.conv'
    fq.disable_observer()
    with pytest.raises(RuntimeError, match='layer1.conv'):
        fq(torch.ones(3))


def test_freeze_blocks_observation():
    fq = FakeQuantize()
    fq(torch.tensor([0.0, 1.0]))
    fq.freeze()
    with pytest.raises(RuntimeError, match='frozen'):
        fq.enable_observer()
    scale = fq.scale.clone()
    fq.disable_fake_quant()
    fq(torch.tensor([0.0, 50.0]))
    assert torch.equal(fq.scale, scale)
    fq.unfreeze().enable_observer()
    fq(torch.tensor([0.0, 50.0]))
    assert fq.calculate_qparams()[0] > scale


def _scales_in_onnx(path):
    model = onnx.load(str(path))
    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == 'Constant':
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return sorted(float(consts[n.input[1]].max()) for n in model.graph.node
                  if n.op_type == 'DequantizeLinear')


def test_observing_with_fake_quant_off_cannot_drift_exported_scales(tmp_path):
    """The validated fake-quant model and the exported file share the scale buffers."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    x = torch.randn(32, 8)
    q = calibrate(prepare(model, x, qconfig='int8'), [x])
    validated = q(x)
    validated_scales = {n: fq.scale.clone() for n, fq in fake_quants(q)}
    export_onnx(q, x, tmp_path / 'a.onnx')
    # A user turns fake quant off (to compare with float) but leaves observers running on other data.
    for _, fq in fake_quants(q):
        fq.disable_fake_quant()
        fq.enable_observer()
    q(10 * torch.randn(32, 8))
    for name, fq in fake_quants(q):  # the statistics moved; the scales did so visibly, not silently
        assert not torch.equal(fq.calculate_qparams()[0], validated_scales[name]) or 'weight' in name
    # Export uses the current buffers for both the file and the reference it verifies against, with
    # observers off, and restores the user's switches afterwards.
    export_onnx(q, x, tmp_path / 'b.onnx')
    assert all(bool(fq.observer_enabled) and not bool(fq.fake_quant_enabled) for _, fq in fake_quants(q))
    current = sorted(float(fq.scale.max()) for _, fq in fake_quants(q))
    assert _scales_in_onnx(tmp_path / 'b.onnx') == pytest.approx(current)
    # Frozen fake quants cannot move at all: re-calibrate, freeze, observe again with fake quant off.
    calibrate(q, [x], reset=True)
    for _, fq in fake_quants(q):
        fq.freeze()
        fq.disable_fake_quant()
    q(10 * torch.randn(32, 8))
    for _, fq in fake_quants(q):
        fq.enable_fake_quant()
    torch.testing.assert_close(q(x), validated)
    export_onnx(q, x, tmp_path / 'c.onnx')
    assert _scales_in_onnx(tmp_path / 'c.onnx') == pytest.approx(_scales_in_onnx(tmp_path / 'a.onnx'))


def test_learnable_fake_quantize_learns_scale():
    torch.manual_seed(0)
    fq = LearnableFakeQuantize(quant_min=-8, quant_max=7, symmetric=True, ch_axis=0)
    w = torch.randn(4, 32)
    fq(w)
    fq.disable_observer()
    init = fq.scale.detach().clone()
    assert init.shape == (4,) and not fq.zero_point.requires_grad
    opt = torch.optim.Adam(fq.parameters(), lr=1e-2)
    err0 = (fq(w) - w).pow(2).mean().item()
    for _ in range(100):
        opt.zero_grad()
        (fq(w) - w).pow(2).mean().backward()
        opt.step()
    assert (fq(w) - w).pow(2).mean().item() < err0
    assert not torch.equal(fq.scale.detach(), init)


def test_lsq_plus_zero_point_is_learnable_and_state_dict_round_trips():
    fq = LearnableFakeQuantize(quant_min=0, quant_max=255, symmetric=False)
    fq(torch.randn(64) + 1)
    assert fq.zero_point.requires_grad
    fresh = LearnableFakeQuantize(quant_min=0, quant_max=255, symmetric=False)
    fresh.load_state_dict(fq.state_dict())
    x = torch.randn(16)
    torch.testing.assert_close(fresh(x), fq(x))


def test_per_channel_state_dict_resizes_on_load():
    fq = FakeQuantize(quant_min=-128, quant_max=127, symmetric=True, ch_axis=0)
    fq(torch.randn(5, 3))
    fresh = FakeQuantize(quant_min=-128, quant_max=127, symmetric=True, ch_axis=0)
    fresh.load_state_dict(fq.state_dict())
    assert fresh.scale.shape == (5,) and torch.equal(fresh.scale, fq.scale)
