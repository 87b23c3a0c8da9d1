"""The int8 files run as int8 where they are deployed: onnxruntime fuses them, OpenVINO runs them.

For every zoo model and for the chains users build (pruned then quantized, NAS subnet then
quantized): onnxruntime's optimized graph holds integer kernels (QLinearConv / QGemm /
QLinearMatMul / MatMulIntegerToFloat) and no float conv/matmul fed by a DequantizeLinear; where
OpenVINO is installed the IR runs there within one output quantization step of PyTorch.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

import razor_ext
from razor_ext.export import RuntimeSession, optimized_op_types, unfused_quantized_ops
from razor_ext.quantization import PRESETS, calibrate, export_onnx, export_openvino, prepare
from razor_ext.quantization.onnx_qdq import _output_steps, lacks_vnni
from tests.quantization.zoo import TinyResNet, zoo

ZOO = zoo()
INTEGER_KERNELS = {'QLinearConv', 'QGemm', 'QLinearMatMul', 'MatMulInteger', 'MatMulIntegerToFloat',
                   'DynamicQuantizeMatMul'}
needs_openvino = pytest.mark.skipif(importlib.util.find_spec('openvino') is None,
                                    reason='OpenVINO not installed (pip install razor_ext[openvino])')


def _calibrated(model, x, **kw):
    g = torch.Generator().manual_seed(1)
    return calibrate(prepare(model, x, **kw), [torch.randn(x.shape, generator=g) * 2 + 0.5 for _ in range(4)])


def _assert_fused(path):
    ops = optimized_op_types(path)
    assert INTEGER_KERNELS & set(ops), dict(ops)
    assert unfused_quantized_ops(path) == [], dict(ops)
    return ops


def test_default_preset_is_the_one_runtimes_accelerate():
    qc = PRESETS['int8_per_channel']
    assert qc.weight.signed and qc.weight.symmetric and qc.weight.per_channel
    assert qc.weight.quant_range == (-128, 127)
    assert prepare(TinyResNet(), torch.randn(1, 3, 16, 16)).fc.weight_fake_quant.quant_min == -128
    assert PRESETS['int8_per_channel_u8'].weight.quant_range == (0, 255)  # the old default, by name
    assert PRESETS['openvino_int8'].weight.quant_range == (-127, 127)  # MMRazor's is_symmetric_range


@pytest.mark.parametrize('name', sorted(ZOO))
@pytest.mark.parametrize('backend', ['NativeQuantizer', 'OpenVINOQuantizer'])
def test_zoo_int8_files_fuse_in_onnxruntime(name, backend, tmp_path):
    model, x = ZOO[name]
    path = export_onnx(_calibrated(model, x, backend=backend), x, tmp_path / 'q.onnx')
    ops = _assert_fused(path)
    if name in ('resnet', 'mobilenetv2'):
        assert ops['QLinearConv'] >= 5 and 'Conv' not in ops
    if name in ('resnet', 'mobilenetv2') and backend == 'NativeQuantizer':
        # residual adds stay int8: no float op between quantized convs (OpenVINO's convention
        # quantizes inputs only; its plugin fuses the add itself)
        assert ops['QLinearAdd'] == 2


@needs_openvino
@pytest.mark.parametrize('name', sorted(ZOO))
def test_zoo_int8_runs_in_openvino_within_one_step(name, tmp_path):
    if lacks_vnni():
        pytest.skip("x86 without VNNI: OpenVINO's u8 x s8 int8 kernels saturate (export_openvino "
                    'warns; test_openvino_mismatch_warns_only_without_vnni)')
    model, x = ZOO[name]
    q = _calibrated(model, x)
    xml = export_openvino(q, x, tmp_path / 'q.xml')  # verifies: one output step + 1e-4
    # a second batch, checked here in the test too
    x2 = torch.randn(x.shape, generator=torch.Generator().manual_seed(7)) * 2 + 0.5
    out = RuntimeSession(xml, 'openvino', threads=2)([x2.numpy()])[0]
    with torch.no_grad():
        ref = q(x2).numpy()
    step = _output_steps(q, 1)[0]
    assert step > 0
    diff = np.abs(out - ref) / step
    # on a fresh batch: one step almost everywhere; a rounding tie taken the other way in an
    # intermediate layer (softmax, layer norm) moves a rare output by a second step
    assert (diff > 1 + 1e-3).mean() < 0.01 and diff.max() <= 2 + 1e-3


def test_openvino_mismatch_warns_only_without_vnni(tmp_path, monkeypatch):
    # the QDQ file is checked for real; OpenVINO's check is faked to fail as a saturating
    # int8 kernel does: a warning without VNNI (the IR is kept), an error with it
    import razor_ext.quantization.openvino_ir as ir
    from razor_ext.export import OnnxVerificationError
    model, x = ZOO['mlp']
    q = _calibrated(model, x)

    def saturating(model, inputs, path, verify=True, **kw):
        path.write_text('<net/>')
        raise OnnxVerificationError(f'{path}: output 0 differs from PyTorch in OpenVINO by up to 9')

    monkeypatch.setattr(ir, 'to_openvino', saturating)
    monkeypatch.setattr(ir, 'lacks_vnni', lambda: True)
    with pytest.warns(RuntimeWarning, match="no VNNI.*'int8_per_channel_u8'"):
        assert export_openvino(q, x, tmp_path / 'q.xml') == tmp_path / 'q.xml'
    monkeypatch.setattr(ir, 'lacks_vnni', lambda: False)
    with pytest.raises(OnnxVerificationError, match='differs from PyTorch in OpenVINO'):
        export_openvino(q, x, tmp_path / 'q.xml')


def test_pruned_then_quantized_stays_fused(tmp_path):
    model, x = ZOO['resnet']
    pruned = razor_ext.prune(model, x, ratio=0.5)
    assert pruned.layer2.conv1.out_channels < model.layer2.conv1.out_channels
    q = _calibrated(pruned, x)
    path = export_onnx(q, x, tmp_path / 'pq.onnx')
    ops = _assert_fused(path)
    assert ops['QLinearConv'] == 6 and ops['QLinearAdd'] == 2


def test_nas_subnet_then_quantized_stays_fused(tmp_path):
    from razor_ext.architectures import SearchableMnistNet
    from razor_ext.supernet import NasMutator
    from razor_ext.supernet.fix_subnet import export_fix_subnet

    torch.manual_seed(0)
    supernet = SearchableMnistNet(width=8, depth=2).eval()
    mutator = NasMutator()
    mutator.prepare_from_supernet(supernet)
    mutator.set_choices(mutator.sample_choices())
    _, static = export_fix_subnet(supernet, slice_weight=True)
    x = torch.randn(2, 1, 28, 28)
    path = export_onnx(_calibrated(static, x), x, tmp_path / 'subnet.onnx')
    _assert_fused(path)
