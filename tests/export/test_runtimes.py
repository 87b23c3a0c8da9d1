"""benchmark / RuntimeSession / to_openvino: runtimes named, threads stated, outputs checked."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from torch import nn

from razor_ext.export import (BenchmarkResult, OnnxVerificationError, RuntimeSession, benchmark,
                              graph_inputs, onnxruntime_outputs, optimized_op_types, to_onnx,
                              to_openvino, unfused_quantized_ops)

HAS_OPENVINO = importlib.util.find_spec('openvino') is not None
needs_openvino = pytest.mark.skipif(not HAS_OPENVINO, reason='OpenVINO not installed '
                                    '(pip install razor_ext[openvino])')
RUNTIMES = ['onnxruntime', pytest.param('openvino', marks=needs_openvino)]


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 5)).eval()


@pytest.mark.parametrize('runtime', RUNTIMES)
def test_benchmark_a_module_and_a_file(runtime, tmp_path):
    net, x = _net(), torch.randn(2, 3, 12, 12)
    r = benchmark(net, x, runtime=runtime, threads=1, warmup=1, repeats=4)
    assert isinstance(r, BenchmarkResult)
    assert (r.runtime, r.threads, r.batch_size, r.warmup, r.repeats) == (runtime, 1, 2, 1, 4)
    assert 0 < r.min_ms <= r.median_ms and r.min_ms <= r.mean_ms
    assert r.to_dict()['runtime'] == runtime
    path = to_onnx(net, x, tmp_path / 'n.onnx')
    r2 = benchmark(path, runtime=runtime, threads=1, warmup=0, repeats=2, batch_size=3)
    assert r2.batch_size == 3  # inputs generated from the graph, dynamic batch filled in


@pytest.mark.parametrize('runtime', RUNTIMES)
def test_sessions_agree_with_pytorch(runtime, tmp_path):
    net, x = _net(), torch.randn(3, 3, 12, 12)
    path = to_onnx(net, x, tmp_path / 'n.onnx')
    session = RuntimeSession(path, runtime, threads=2, config={'INFERENCE_PRECISION_HINT': 'f32'}
                             if runtime == 'openvino' else None)
    out = session([x.numpy()])[0]
    with torch.no_grad():
        np.testing.assert_allclose(out, net(x).numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match='inputs'):
        session([x.numpy(), x.numpy()])


@pytest.mark.parametrize('runtime', RUNTIMES)
def test_run_only_runs_and_leaves_the_callers_arrays_alone(runtime, tmp_path):
    # run_only (the timing call) reads no output back; the caller's input array must not become
    # the runtime's input buffer, or the next call would write its inputs into it
    net, x = _net(), torch.randn(3, 3, 12, 12)
    path = to_onnx(net, x, tmp_path / 'n.onnx')
    session = RuntimeSession(path, runtime, threads=1, config={'INFERENCE_PRECISION_HINT': 'f32'}
                             if runtime == 'openvino' else None)
    first = np.ones((3, 3, 12, 12), np.float32)
    assert session.run_only([first]) is None
    out = session([x.numpy()])[0]
    assert np.array_equal(first, np.ones_like(first))
    with torch.no_grad():
        np.testing.assert_allclose(out, net(x).numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match='inputs'):
        session.run_only([x.numpy(), x.numpy()])


def test_bad_arguments(tmp_path):
    net, x = _net(), torch.randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match='runtime'):
        benchmark(net, x, runtime='tensorrt')
    with pytest.raises(ValueError, match='repeats'):
        benchmark(net, x, repeats=0)
    with pytest.raises(ValueError, match='example_inputs'):
        benchmark(net)
    with pytest.raises(TypeError, match='ONNX path'):
        benchmark(3.0)
    with pytest.raises(FileNotFoundError):
        RuntimeSession(tmp_path / 'missing.onnx')
    path = to_onnx(net, x, tmp_path / 'n.onnx')
    with pytest.raises(ValueError, match='threads'):
        RuntimeSession(path, threads=0)
    with pytest.raises(ValueError, match='batch_size'):
        graph_inputs(path, batch_size=0)


def test_fusion_helpers_on_a_float_file(tmp_path):
    net, x = _net(), torch.randn(1, 3, 8, 8)
    path = to_onnx(net, x, tmp_path / 'n.onnx')
    ops = optimized_op_types(path)
    assert ops['Gemm'] == 1 and 'DequantizeLinear' not in ops
    assert unfused_quantized_ops(path) == []


def test_unfused_quantized_ops_finds_a_dequantized_float_conv(tmp_path):
    """A QDQ conv whose output is not quantized again has no QLinearConv form: it is reported."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.int8), 'w')
    inits = [w, numpy_helper.from_array(np.array(0.1, np.float32), 's'),
             numpy_helper.from_array(np.array(0, np.int8), 'z'),
             numpy_helper.from_array(np.array(0.05, np.float32), 'xs'),
             numpy_helper.from_array(np.array(0, np.uint8), 'xz')]
    nodes = [helper.make_node('QuantizeLinear', ['x', 'xs', 'xz'], ['xq']),
             helper.make_node('DequantizeLinear', ['xq', 'xs', 'xz'], ['xd']),
             helper.make_node('DequantizeLinear', ['w', 's', 'z'], ['wd']),
             helper.make_node('Conv', ['xd', 'wd'], ['y'], name='conv'),
             helper.make_node('Sigmoid', ['y'], ['out'])]
    graph = helper.make_graph(nodes, 'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info('out', TensorProto.FLOAT, None)], inits)
    path = tmp_path / 'dq_conv.onnx'
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)]), str(path))
    found = unfused_quantized_ops(path)  # onnxruntime may fuse the Sigmoid: FusedConv
    assert len(found) == 1 and found[0].split()[1] == 'conv' and 'Conv' in found[0], found


@needs_openvino
def test_to_openvino_writes_ir_and_verifies(tmp_path):
    net, x = _net(), torch.randn(2, 3, 12, 12)
    xml = to_openvino(net, x, tmp_path / 'n.xml')
    assert xml.is_file() and xml.with_suffix('.bin').is_file()
    assert not [p for p in tmp_path.iterdir() if p.suffix not in ('.xml', '.bin')]  # no leftovers
    out = RuntimeSession(xml, 'openvino', 1, {'INFERENCE_PRECISION_HINT': 'f32'})([x.numpy()])[0]
    with torch.no_grad():
        np.testing.assert_allclose(out, net(x).numpy(), rtol=1e-4, atol=1e-5)
    # a file that does not match the model is caught
    other = _net()
    with torch.no_grad():
        other[-1].bias += 1.0
    onnx_file = to_onnx(other, x, tmp_path / 'other.onnx')
    with pytest.raises(OnnxVerificationError, match='OpenVINO'):
        to_openvino(net, x, tmp_path / 'bad.xml', onnx_path=onnx_file)
    with pytest.raises(ValueError, match='.xml'):
        to_openvino(net, x, tmp_path / 'n.onnx')


def test_without_openvino_the_error_says_how_to_install(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_openvino(name, *args, **kwargs):
        if name == 'openvino' or name.startswith('openvino.'):
            raise ImportError('No module named openvino')
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', no_openvino)
    net, x = _net(), torch.randn(1, 3, 8, 8)
    with pytest.raises(ImportError, match=r'pip install razor_ext\[openvino\]'):
        to_openvino(net, x, tmp_path / 'n.xml')
    with pytest.raises(ImportError, match='pip install'):
        benchmark(net, x, runtime='openvino', repeats=1)
    # onnxruntime keeps working
    assert onnxruntime_outputs(to_onnx(net, x, tmp_path / 'n.onnx'), [x])[0].shape == (1, 5)
