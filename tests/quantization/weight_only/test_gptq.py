"""GPTQ and round-to-nearest: on one linear layer GPTQ's output error is below RTN's for
correlated inputs and equal to it for an identity Hessian; WeightOnlyQuantLinear computes the
dequantized layer; save / load round trip; a conv model; MatMulNBits export in onnxruntime."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from razor_ext.quantization import (WeightOnlyQuantLinear, export_matmulnbits, gptq,
                                    load_weight_only, save_weight_only)
from razor_ext.quantization.weight_only import gptq_quantize, rtn_quantize


def correlated_inputs(n, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(k, k, generator=g) / k ** 0.5 + torch.eye(k)
    return torch.randn(n, k // 8, generator=g).repeat_interleave(8, 1) + 0.1 * torch.randn(n, k, generator=g) @ mix


def layer_error(layer, quantized, x):
    with torch.no_grad():
        return float((layer(x) - quantized(x)).pow(2).mean())


@pytest.mark.parametrize("bits,group_size,act_order", [(4, 32, False), (4, 128, False), (4, 32, True),
                                                       (8, 64, False), (4, -1, False)])
def test_gptq_beats_rtn_on_correlated_inputs(bits, group_size, act_order):
    torch.manual_seed(0)
    layer = nn.Linear(256, 48)
    x = correlated_inputs(1024, 256)
    q_gptq = gptq(_copy(layer), [x], bits=bits, group_size=group_size, act_order=act_order)
    q_rtn = gptq(_copy(layer), None, bits=bits, group_size=group_size, method="rtn")
    assert isinstance(q_gptq[0], WeightOnlyQuantLinear)
    held_out = correlated_inputs(512, 256, seed=1)
    e_gptq = layer_error(layer, q_gptq, held_out)
    e_rtn = layer_error(layer, q_rtn, held_out)
    assert e_gptq < 0.8 * e_rtn, (e_gptq, e_rtn)


def _copy(layer):
    new = nn.Linear(layer.in_features, layer.out_features)
    new.load_state_dict(layer.state_dict())
    return nn.Sequential(new)


@pytest.mark.parametrize("sym", [True, False])
def test_gptq_equals_rtn_for_identity_hessian(sym):
    w = torch.randn(16, 128)
    codes_g, s_g, z_g = gptq_quantize(w, torch.eye(128) * 3.0, bits=4, group_size=32, sym=sym)
    codes_r, s_r, z_r = rtn_quantize(w, bits=4, group_size=32, sym=sym)
    assert torch.equal(codes_g, codes_r)
    torch.testing.assert_close(s_g, s_r)
    torch.testing.assert_close(z_g, z_r)


def test_quantized_linear_computes_the_dequantized_layer():
    torch.manual_seed(0)
    layer = nn.Linear(100, 20)
    q = gptq(_copy(layer), [torch.randn(64, 100)], bits=4, group_size=32)[0]
    x = torch.randn(3, 100)
    want = nn.functional.linear(x, q.dequantized_weight(), layer.bias)
    torch.testing.assert_close(q(x), want, rtol=1e-4, atol=1e-4)
    assert q.packed_weight.dtype == torch.uint8 and q.packed_weight.shape == (20, 50)
    assert int(q.zeros.max()) <= 15


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)

    def build():
        return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8))

    model = build()
    q = gptq(model, [torch.randn(32, 64)], bits=4, group_size=32, sym=False)
    save_weight_only(q, tmp_path / "q.pt")
    loaded = load_weight_only(build(), tmp_path / "q.pt")
    x = torch.randn(5, 64)
    assert torch.equal(loaded(x), q(x))
    assert isinstance(loaded[2], WeightOnlyQuantLinear) and loaded[2].group_size == 32
    with pytest.raises(TypeError, match="gptq"):
        save_weight_only(build(), tmp_path / "f.pt")


def test_conv_model_gptq_beats_rtn():
    torch.manual_seed(0)

    def build():
        torch.manual_seed(1)
        return nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 36, 10))

    x = torch.randn(64, 1, 6, 6).repeat(1, 8, 1, 1) + 0.05 * torch.randn(64, 8, 6, 6)
    ref = build()
    g = gptq(build(), [x], bits=4, group_size=-1)
    r = gptq(build(), None, bits=4, group_size=-1, method="rtn")
    assert isinstance(g[0], nn.Conv2d) and isinstance(g[3], WeightOnlyQuantLinear)
    assert layer_error(ref, g, x) < layer_error(ref, r, x)


def test_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        gptq(nn.Linear(4, 4), None, method="awq")
    with pytest.raises(ValueError, match="bits"):
        gptq(nn.Linear(4, 4), None, bits=3, method="rtn")
    with pytest.raises(ValueError, match="group_size"):
        gptq(nn.Linear(4, 4), None, group_size=0, method="rtn")
    with pytest.raises(ValueError, match="calib_batches"):
        gptq(nn.Linear(4, 4), None)


def test_matmulnbits_onnx_matches_pytorch(tmp_path):
    pytest.importorskip("onnxruntime")
    import onnx
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(96, 64), nn.ReLU(), nn.Linear(64, 16, bias=False))
    q = gptq(model, [torch.randn(64, 96)], bits=4, group_size=32, sym=False)
    path = export_matmulnbits(q, torch.randn(3, 96), tmp_path / "q.onnx", rtol=1e-3, atol=1e-4)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("MatMulNBits") == 2 and "MatMul" not in ops and "Gemm" not in ops
    assert isinstance(q[0], WeightOnlyQuantLinear)  # the model is left as it was


def test_config_built_algorithms():
    from razor_ext.registry import MODELS
    x = correlated_inputs(256, 64)
    algo = MODELS.build(dict(type='mmrazor.GPTQ', architecture=nn.Sequential(nn.Linear(64, 16)),
                             bits=4, group_size=32, act_order=True))
    algo.calibrate([x])
    assert isinstance(algo.architecture[0], WeightOnlyQuantLinear)
    assert algo(x[:2]).shape == (2, 16)
    pruner = MODELS.build(dict(type='SparseGPT', architecture=nn.Sequential(nn.Linear(64, 16)),
                               pattern='4:8'))
    pruner.calibrate([x])
    w = pruner.architecture[0].weight
    assert int((w.reshape(16, 8, 8) != 0).sum(-1).max()) == 4
