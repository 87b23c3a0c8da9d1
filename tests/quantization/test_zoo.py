"""prepare / calibrate / export (verified in onnxruntime) / save / load on a zoo of small models."""
from __future__ import annotations

import copy
import os

import onnx
import pytest
import torch
from torch import nn

from razor_ext.export import OnnxVerificationError, onnxruntime_outputs, to_onnx
from razor_ext.quantization.fake_quantize import FakeQuantize
from razor_ext.quantization.quantizers import QConv2d, QLinear
from razor_ext.quantization import calibrate, export_onnx, fake_quants, load, prepare, save
from tests.quantization.zoo import TinyResNet, zoo

ZOO = zoo()


def _batches(x, n=4):
    g = torch.Generator().manual_seed(1)
    return [torch.randn(x.shape, generator=g) * 2 + 0.5 for _ in range(n)]


@pytest.mark.parametrize('name', sorted(ZOO))
@pytest.mark.parametrize('qconfig', ['int8_per_channel', 'w4a8'])
def test_zoo_prepare_calibrate_export_save_load(name, qconfig, tmp_path):
    model, x = ZOO[name]
    before = copy.deepcopy(model.state_dict())
    q = prepare(model, x, qconfig=qconfig)
    # the input model is untouched
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(isinstance(m, FakeQuantize) for m in model.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in q.modules())  # folded
    assert any(isinstance(m, (QConv2d, QLinear)) for m in q.modules())
    calibrate(q, _batches(x))
    with torch.no_grad():
        ref, got = model(x), q(x)
    # int8 stays close to float; 4-bit weights are coarser but still correlated
    rel = ((got - ref).norm() / ref.norm()).item()
    assert rel < (0.1 if qconfig == 'int8_per_channel' else 0.5), rel
    path = export_onnx(q, x, tmp_path / 'q.onnx', verify=True)
    graph = onnx.load(str(path)).graph
    ops = {n.op_type for n in graph.node}
    assert {'QuantizeLinear', 'DequantizeLinear'} <= ops
    assert onnx.load(str(path)).opset_import[0].version >= 13
    weight_dq = [n for n in graph.node if n.op_type == 'DequantizeLinear'
                 and any(i.name == n.input[0] for i in graph.initializer)]
    assert weight_dq, 'weights must reach DequantizeLinear as 8-bit initializers'
    assert all(i.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8) for i in graph.initializer
               if i.name in {n.input[0] for n in weight_dq})
    # onnxruntime on a second batch size (dynamic batch)
    x2 = _batches(x, 1)[0][:2]
    out = onnxruntime_outputs(path, [x2])[0]
    with torch.no_grad():
        assert ((torch.from_numpy(out) - q(x2)).abs().max() < 0.2 * q(x2).abs().max() + 1e-3)
    save(q, tmp_path / 'q.pt')
    reloaded = load(model, tmp_path / 'q.pt')  # no calibration
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x), q(x))
    export_onnx(reloaded, x, tmp_path / 'r.onnx')


@pytest.mark.parametrize('name', ['mlp'])  # weights dominate; a tiny convnet's file is graph overhead
def test_onnx_file_is_about_a_quarter_of_float(name, tmp_path):
    model, x = ZOO[name]
    q = calibrate(prepare(model, x, qconfig='int8_per_channel'), _batches(x))
    export_onnx(q, x, tmp_path / 'q.onnx')
    to_onnx(model, x, tmp_path / 'f.onnx')
    ratio = os.path.getsize(tmp_path / 'q.onnx') / os.path.getsize(tmp_path / 'f.onnx')
    assert ratio < 0.3, ratio


@pytest.mark.parametrize('backend', ['TensorRTQuantizer', 'OpenVINOQuantizer'])
def test_backend_variants_export_and_verify(backend, tmp_path):
    model, x = ZOO['resnet']
    q = calibrate(prepare(model, x, backend=backend, qconfig=None or
                          ('tensorrt_int8' if backend == 'TensorRTQuantizer' else 'int8_per_channel')),
                  _batches(x))
    if backend == 'TensorRTQuantizer':
        assert all(fq.quant_min == -127 and fq.symmetric for _, fq in fake_quants(q))
    export_onnx(q, x, tmp_path / 'q.onnx')


def test_skip_by_name_and_type_stays_float():
    model, x = ZOO['resnet']
    q = prepare(model, x, skip=('fc', 'layer1'))
    assert type(q.fc) is nn.Linear
    assert type(q.layer1.conv1) is nn.Conv2d and isinstance(q.layer1.bn1, nn.BatchNorm2d)
    assert isinstance(q.layer2.conv1, QConv2d)
    q2 = prepare(model, x, qconfig={'preset': 'int8', 'overrides': {nn.Linear: None}})
    assert type(q2.fc) is nn.Linear
    with pytest.raises(ValueError, match='nope'):
        prepare(model, x, skip=('nope',))


def test_mixed_precision_override_by_name():
    model, x = ZOO['resnet']
    q = prepare(model, x, qconfig={'preset': 'w4a8', 'overrides': {'fc': 'int8'}})
    assert q.fc.weight_fake_quant.quant_max == 127  # 8-bit, int8 codes (the default since issue 25)
    assert q.stem._modules['0'].weight_fake_quant.quant_max == 7


def test_qat_mode_trains_and_exports(tmp_path):
    model, x = ZOO['resnet']
    q = prepare(model, x, qconfig='w4a8', mode='qat')
    assert q.training
    opt = torch.optim.SGD(q.parameters(), lr=0.01)
    y = torch.randint(0, 10, (x.shape[0],))
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(q(x), y).backward()
        opt.step()
    assert q.fc.weight.grad is not None
    export_onnx(q, x, tmp_path / 'qat.onnx')
    assert q.training


def test_lsq_preset_exports(tmp_path):
    model, x = ZOO['mobilenetv2']
    q = calibrate(prepare(model, x, qconfig='lsq_w4a8', mode='qat'), _batches(x))
    assert any(isinstance(p, nn.Parameter) and n.endswith('scale') for n, p in q.named_parameters())
    export_onnx(q, x, tmp_path / 'lsq.onnx')


def test_verification_catches_a_wrong_file(tmp_path, monkeypatch):
    model, x = ZOO['mlp']
    q = calibrate(prepare(model, x), _batches(x))
    import razor_ext.quantization.onnx_qdq as qdq

    real = qdq.onnxruntime_outputs
    # wrong in every mode onnxruntime runs it (also the unoptimized re-check on CPUs without VNNI)
    monkeypatch.setattr(qdq, 'onnxruntime_outputs', lambda p, i, **kw: [o + 1.0 for o in real(p, i, **kw)])
    with pytest.raises(OnnxVerificationError, match='output step'):
        export_onnx(q, x, tmp_path / 'bad.onnx')


def test_untraceable_model_names_skip():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(x) if x.sum() > 0 else x

    with pytest.raises(TypeError, match='skip'):
        prepare(Branchy(), torch.randn(2, 4))


def test_bad_arguments():
    model, x = TinyResNet(), torch.randn(1, 3, 16, 16)
    with pytest.raises(ValueError, match='mode'):
        prepare(model, x, mode='int8')
    with pytest.raises(KeyError, match='preset'):
        prepare(model, x, qconfig='int7')
    with pytest.raises(ValueError, match='no fake quants'):
        calibrate(model, [x])
    with pytest.raises(TypeError, match='prepare'):
        save(model, 'x.pt')


@pytest.mark.parametrize('qconfig', ['int8', 'histogram_int8', 'w2a8'])
def test_other_presets_export_and_verify(qconfig, tmp_path):
    model, x = ZOO['mlp']
    q = calibrate(prepare(model, x, qconfig=qconfig), _batches(x))
    export_onnx(q, x, tmp_path / 'q.onnx')


def test_kernel_drift_on_a_cpu_without_vnni_warns_when_the_file_is_right(tmp_path, monkeypatch):
    """onnxruntime's u8s8 kernels saturate on x86 without VNNI; the file is still exact (checked with
    graph optimizations off), so export warns and names the '_u8' presets instead of failing."""
    model, x = ZOO['mlp']
    q = calibrate(prepare(model, x), _batches(x))
    import razor_ext.quantization.onnx_qdq as qdq

    real = qdq.onnxruntime_outputs

    def drifting(p, i, graph_optimizations=True):  # what a saturating int8 kernel looks like
        out = real(p, i, graph_optimizations=graph_optimizations)
        return [o + 1.0 for o in out] if graph_optimizations else out

    monkeypatch.setattr(qdq, 'onnxruntime_outputs', drifting)
    monkeypatch.setattr(qdq, 'lacks_vnni', lambda: True)
    with pytest.warns(RuntimeWarning, match='int8_per_channel_u8'):
        export_onnx(q, x, tmp_path / 'drift.onnx')
    monkeypatch.setattr(qdq, 'lacks_vnni', lambda: False)  # with VNNI the same drift is an error
    with pytest.raises(OnnxVerificationError, match='output step'):
        export_onnx(q, x, tmp_path / 'drift.onnx')
