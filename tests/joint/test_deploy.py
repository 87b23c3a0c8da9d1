"""From a joint choice to a deployed model: a 4-bit layer exports to QDQ ONNX that onnxruntime
runs within one quantization step, with int8 storage holding the 4-bit codes."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from razor_ext.architectures import SearchableSlimNet
from razor_ext.export import onnxruntime_outputs
from razor_ext.joint import (JointSearchSpace, deployable_subnet, export_deployable,
                             measure_subnet, quantize_static)
from razor_ext.joint.deploy import sub_qconfig
from razor_ext.quantization import enable_observers


def _space(**kw):
    torch.manual_seed(0)
    net = SearchableSlimNet(stem_channels=4, widths=((4, 8), (8, 16)), strides=(2, 2))
    space = JointSearchSpace(net, torch.randn(1, 1, 16, 16), **kw)
    net.eval()
    with torch.no_grad():  # observe: every width's fake quant sees data
        for choices in (space.max_choices, space.min_choices):
            space.set_choices(choices)
            net(torch.randn(8, 1, 16, 16))
    enable_observers(net, False)
    return space


def test_static_subnet_matches_the_supernet_at_float_widths():
    space = _space()
    space.set_choices({**space.min_choices, **space.uniform_bits(16, 16)})
    x = torch.randn(3, 1, 16, 16)
    torch.testing.assert_close(space.static_subnet()(x), space.supernet(x), atol=1e-5, rtol=1e-5)


def test_four_bit_layer_exports_to_qdq_onnx_that_onnxruntime_runs(tmp_path):
    space = _space()
    choices = {**space.max_choices, **space.uniform_bits(8, 8), 'blocks.1.weight_bits': 4,
               'blocks.1.op': 'conv3x3'}
    space.set_choices(choices)
    calib = [torch.rand(8, 1, 16, 16) for _ in range(2)]
    model = deployable_subnet(space, calib)
    x = torch.rand(4, 1, 16, 16)
    # export_onnx verifies in onnxruntime: every output within one output quantization step
    path = export_deployable(model, x, tmp_path / 'w4.onnx', verify=True)
    got = onnxruntime_outputs(path, [x])[0]
    assert got.shape == (4, 10) and np.isfinite(got).all()
    # the 4-bit conv's weights are stored as int8 codes within [-8, 7], and dequantize to
    # exactly the fake-quantized weights of the PyTorch model
    proto = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    conv = model.get_submodule('blocks.1.0')
    fq_w = conv.weight_fake_quant(conv.weight).detach().numpy()
    codes = [v for v in inits.values() if v.dtype == np.int8 and v.shape == fq_w.shape]
    assert codes, 'no int8 weight of the 4-bit conv in the ONNX file'
    assert any(c.min() >= -8 and c.max() <= 7 for c in codes)
    scale = conv.weight_fake_quant.scale.detach().numpy().reshape(-1, 1, 1, 1)
    assert any(np.allclose(c * scale, fq_w, atol=1e-6) for c in codes)


def test_all_float_subnet_exports_plain_onnx(tmp_path):
    space = _space()
    space.set_choices({**space.max_choices, **space.uniform_bits(16, 16)})
    assert space.is_float()
    model = deployable_subnet(space, [torch.rand(4, 1, 16, 16)])
    path = export_deployable(model, torch.rand(2, 1, 16, 16), tmp_path / 'f.onnx', verify=True)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert 'QuantizeLinear' not in ops and 'Conv' in ops
    assert measure_subnet(model, torch.rand(1, 1, 16, 16), repeats=2, warmup=1) > 0


def test_sub_qconfig_renames_a_unit_to_a_wrapped_root():
    space = _space()
    space.set_choices({**space.max_choices, **space.uniform_bits(4, 8)})
    static = space.static_subnet()
    qc = sub_qconfig(space.qconfig(static), 'blocks.0')
    names = [k for k, _ in qc.overrides]
    assert names and all(n == '0' or n.startswith('0.') for n in names)


def test_quantize_static_needs_calibration_data():
    space = _space()
    static = space.static_subnet()
    with pytest.raises(ValueError, match='calibration'):
        quantize_static(static, space.qconfig(static), [])
