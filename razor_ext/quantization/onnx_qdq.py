"""``export_onnx``: a fake-quantized model as QuantizeLinear/DequantizeLinear ONNX, int8 weights."""
from __future__ import annotations

import os
import platform
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import Tensor, fx, nn

from razor_ext.export.onnx_export import OnnxVerificationError, onnxruntime_outputs, to_onnx
from razor_ext.fileio import atomic_write_bytes
from razor_ext.quantization.fake_quantize import FakeQuantize
from razor_ext.quantization.qdq_layout import requantize_rearranged_inputs
from razor_ext.quantization.switches import fake_quants
from razor_ext.quantization.verify_bound import requantization_envelope

__all__ = ['export_onnx', 'fold_constant_quantize', 'lacks_vnni']


def _constants(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    values = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == 'Constant' and node.attribute and node.attribute[0].name == 'value':
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def _quantize_linear(node: onnx.NodeProto, x: np.ndarray, scale: np.ndarray,
                     zero_point: np.ndarray) -> np.ndarray:
    """QuantizeLinear in numpy: round half to even, saturate to the zero point's type.

    ``x * (1 / scale)`` in float32, as torch's fake-quant kernels compute it (ONNX says ``x / scale``):
    symmetric weight scales put the largest weight exactly on a tie, where the two can differ.
    """
    axis = next((a.i for a in node.attribute if a.name == 'axis'), 1)
    if scale.ndim == 1 and scale.size > 1:
        shape = [1] * x.ndim
        shape[axis] = -1
        scale, zero_point = scale.reshape(shape), zero_point.reshape(shape)
    info = np.iinfo(zero_point.dtype)
    inv_scale = np.float32(1.0) / scale.astype(np.float32)
    q = np.rint(x.astype(np.float32) * inv_scale) + zero_point.astype(np.int32)
    return np.clip(q, info.min, info.max).astype(zero_point.dtype)


def _evaluate(node: onnx.NodeProto, values: list[np.ndarray], opset: Any) -> list[np.ndarray]:
    if node.op_type == 'QuantizeLinear' and len(values) == 3:
        return [_quantize_linear(node, *values)]
    from onnx.reference import ReferenceEvaluator

    undefined = onnx.TensorProto.UNDEFINED
    graph = onnx.helper.make_graph(
        [node], 'fold', [onnx.helper.make_tensor_value_info(i, undefined, None) for i in node.input if i],
        [onnx.helper.make_tensor_value_info(o, undefined, None) for o in node.output])
    sub = onnx.helper.make_model(graph, opset_imports=opset)
    inputs = [i for i in node.input if i]
    return [np.asarray(v) for v in ReferenceEvaluator(sub).run(None, dict(zip(inputs, values)))]


def fold_constant_quantize(model: onnx.ModelProto) -> onnx.ModelProto:
    """Evaluate every node whose inputs are all constants, except ``DequantizeLinear``.

    Weights then reach their ``DequantizeLinear`` as int8/uint8 initializers (the quantized
    weights), and the float weights, clamps and QuantizeLinear that produced them disappear.
    """
    from onnx.reference import ReferenceEvaluator

    consts = _constants(model)
    graph = model.graph
    kept, folded = [], {}
    for node in graph.node:
        if node.op_type == 'Constant':
            kept.append(node)
            continue
        inputs = [i for i in node.input if i]
        if node.op_type != 'DequantizeLinear' and inputs and all(i in consts for i in inputs):
            outs = _evaluate(node, [consts[i] for i in inputs], model.opset_import)
            for name, value in zip(node.output, outs):
                consts[name] = folded[name] = np.asarray(value)
            continue
        kept.append(node)
    used = {i for node in kept for i in node.input} | {o.name for o in graph.output}
    inits = [init for init in graph.initializer if init.name in used and init.name not in folded]
    inits += [numpy_helper.from_array(v, name) for name, v in folded.items() if name in used]
    kept = [n for n in kept if n.op_type != 'Constant' or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(inits)
    return model


def _output_steps(model: nn.Module, n_outputs: int) -> list[float]:
    """Per output: the quantization step of the fake quant producing it (0 if none)."""
    steps = [0.0] * n_outputs
    if not isinstance(model, fx.GraphModule):
        return steps
    out_node = next(n for n in model.graph.nodes if n.op == 'output')
    flat = out_node.args[0]
    flat = list(flat) if isinstance(flat, (list, tuple)) else [flat]
    for i, node in enumerate(flat[:n_outputs]):
        if isinstance(node, fx.Node) and node.op == 'call_module':
            module = model.get_submodule(node.target)
            if isinstance(module, FakeQuantize):
                steps[i] = float(module.scale.detach().max())
    return steps


def lacks_vnni() -> bool:
    """True on an x86 CPU whose flags (Linux ``/proc/cpuinfo``) show no VNNI / AMX int8 path.

    Example:
        >>> isinstance(lacks_vnni(), bool)
        True
    """
    if platform.machine().lower() not in ('x86_64', 'amd64'):
        return False
    try:
        flags = Path('/proc/cpuinfo').read_text()
    except OSError:
        return False
    return not any(f in flags for f in ('avx512_vnni', 'avx_vnni', 'amx_int8'))


def _mismatch(path: Path, got: list[np.ndarray], flat: list[Tensor], steps: list[float], atol: float,
              rtol: float, envelopes: Sequence[float] = ()) -> str | None:
    """Why onnxruntime's outputs ``got`` are not within the verification bound of ``flat``
    (None: they are): one output step, or the requantization envelope where larger
    (:mod:`razor_ext.quantization.verify_bound`), plus ``atol + rtol * |expected|``."""
    for i, (ort_out, ref_t, step) in enumerate(zip(got, flat, steps)):
        ref = ref_t.detach().cpu().numpy().astype(np.float64)
        if ort_out.shape != ref.shape:
            return f'{path}: output {i} has shape {ort_out.shape} in onnxruntime, {ref.shape} in PyTorch'
        diff = np.abs(ort_out.astype(np.float64) - ref)
        envelope = envelopes[i] if i < len(envelopes) else 0.0
        bound = max(step, envelope) * (1 + 1e-5) + atol + rtol * np.abs(ref)
        if (diff > bound).any():
            return (f'{path}: output {i} differs from the fake-quant model by up to '
                    f'{diff.max():.3g} (> one output step {step:.3g}, or {envelope:.3g} where every '
                    f'quantized activation is one code off, + atol {atol})')
    return None


def export_onnx(model: nn.Module, example_inputs: Tensor | Sequence[Tensor],
                path: str | os.PathLike[str], verify: bool = True, *, opset: int = 17,
                atol: float = 1e-4, rtol: float = 1e-4) -> Path:
    """Write ``model`` (from :func:`prepare`, calibrated) as QDQ ONNX with int8 weights.

    The export runs with observers off and fake quants on, so the file holds exactly the
    ``scale``/``zero_point`` buffers the fake-quant model uses; the model's switches are restored
    afterwards. With ``verify=True`` onnxruntime (default session options) runs the example
    inputs and :class:`~razor_ext.export.OnnxVerificationError` is raised where an output differs
    from the fake-quant model by more than one output quantization step, or, where larger, the
    requantization envelope (how far the output moves when every quantized activation is one
    code off: depth- and gain-aware, and defined for float heads after int8 layers; see
    :mod:`razor_ext.quantization.verify_bound`), plus ``atol + rtol * |expected|``. The file is
    written atomically.

    Args:
        model: a prepared, calibrated model.
        example_inputs: ``(B, ...)`` tensor or tuple of tensors (batch dim exported dynamic).
        path: ``.onnx`` file to write.
        verify: check the file in onnxruntime.
        opset: >= 13 (per-channel QuantizeLinear).

    Returns:
        the path written.
    """
    if opset < 13:
        raise ValueError(f'opset must be >= 13 for per-channel QuantizeLinear, got {opset}')
    fqs = [fq for _, fq in fake_quants(model)]
    if not fqs:
        raise ValueError('export_onnx: the model has no fake quants; prepare() and calibrate() it first')
    inputs = (example_inputs,) if isinstance(example_inputs, Tensor) else tuple(example_inputs)
    saved = [(fq, bool(fq.observer_enabled), bool(fq.fake_quant_enabled)) for fq in fqs]
    was_training = model.training
    path = Path(path)
    try:
        for fq in fqs:
            fq.sync_qparams()
            fq.observer_enabled.fill_(False)
            fq.fake_quant_enabled.fill_(True)
            if not bool(fq.calibrated):
                raise RuntimeError(f'export_onnx: {fq.module_name!r} was never calibrated')
        model.eval()
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            # qparams are constants of the exported graph by design: the tracer's warning is noise
            warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
            raw = to_onnx(model, inputs, Path(tmp) / 'fake_quant.onnx', verify=False, opset=opset)
            proto = requantize_rearranged_inputs(fold_constant_quantize(onnx.load(str(raw))))
        onnx.checker.check_model(proto)
        atomic_write_bytes(path, proto.SerializeToString())
        if verify:
            with torch.no_grad():
                expected = model(*inputs)
            flat = list(expected) if isinstance(expected, (list, tuple)) else [expected]
            steps = _output_steps(model, len(flat))
            envelopes = requantization_envelope(model, inputs)
            problem = _mismatch(path, onnxruntime_outputs(path, inputs), flat, steps, atol, rtol,
                                envelopes)
            if problem is not None and lacks_vnni():
                # x86 without VNNI: onnxruntime's u8s8 kernels sum int16 pairs and can saturate.
                # The file is right if onnxruntime without graph optimizations (DQ -> float op,
                # exact) matches; then the kernel drifts, which the user should hear, not fail on.
                plain = onnxruntime_outputs(path, inputs, graph_optimizations=False)
                if _mismatch(path, plain, flat, steps, atol, rtol, envelopes) is None:
                    warnings.warn(f'{problem}; the file itself matches (onnxruntime without graph '
                                  "optimizations): this CPU has no VNNI, where onnxruntime's u8s8 "
                                  "int8 kernels can saturate. For onnxruntime on this CPU use the "
                                  "'_u8' presets (e.g. 'int8_per_channel_u8'); VNNI/AMX CPUs run "
                                  'the default ones', RuntimeWarning, stacklevel=2)
                    problem = None
            if problem is not None:
                raise OnnxVerificationError(problem)
    finally:
        for fq, obs, fake in saved:
            fq.observer_enabled.fill_(obs)
            fq.fake_quant_enabled.fill_(fake)
        model.train(was_training)
    return path
