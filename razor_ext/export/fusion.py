"""What onnxruntime makes of a QDQ file: the op types of its optimized graph, and unfused ops.

A QDQ file is fast only when the runtime fuses each ``DequantizeLinear -> Conv -> QuantizeLinear``
into one integer kernel (``QLinearConv``, ``QGemm``, ``MatMulInteger`` ...). A float op left
between quantized ones (a stray float Add, a missing activation fake quant) keeps its
neighbours' DequantizeLinear in the graph and runs in float: these helpers find such places.
"""
from __future__ import annotations

import collections
import os
import tempfile
from pathlib import Path

import onnx

__all__ = ['FLOAT_COMPUTE_OPS', 'optimized_graph', 'optimized_op_types', 'unfused_quantized_ops']

# Float ops that a QDQ backend should have replaced by integer kernels when their inputs are
# dequantized (onnxruntime's QDQ selectors: Conv, MatMul/Gemm, Add/Mul via QLinearAdd/QLinearMul).
FLOAT_COMPUTE_OPS = frozenset({'Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'FusedConv', 'FusedGemm',
                               'FusedMatMul'})


def optimized_graph(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """The graph onnxruntime runs for the file at ``path`` (CPU, extended optimizations).

    Layout transformations (NCHWc) are left out so that op names stay the portable ones.

    Example:
        >>> import tempfile, pathlib, torch
        >>> from razor_ext.export import to_onnx
        >>> f = to_onnx(torch.nn.Linear(3, 2), torch.randn(1, 3), pathlib.Path(tempfile.mkdtemp()) / 'l.onnx')
        >>> [n.op_type for n in optimized_graph(f).graph.node]
        ['Gemm']
    """
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / 'optimized.onnx'
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        opts.optimized_model_filepath = str(out)
        opts.intra_op_num_threads = 1
        ort.InferenceSession(str(path), opts, providers=['CPUExecutionProvider'])
        return onnx.load(str(out))


def optimized_op_types(path: str | os.PathLike[str]) -> collections.Counter[str]:
    """Count of each op type in onnxruntime's optimized graph of ``path``.

    Example:
        >>> import tempfile, pathlib, torch
        >>> from razor_ext.export import to_onnx
        >>> f = to_onnx(torch.nn.Linear(3, 2), torch.randn(1, 3), pathlib.Path(tempfile.mkdtemp()) / 'l.onnx')
        >>> optimized_op_types(f)['Gemm']
        1
    """
    return collections.Counter(n.op_type for n in optimized_graph(path).graph.node)


def unfused_quantized_ops(path: str | os.PathLike[str]) -> list[str]:
    """Float conv/matmul nodes of the optimized graph that are fed by a ``DequantizeLinear``.

    Each is a place where the file asked for int8 but onnxruntime runs float (``DQ -> Conv``). An
    empty list means every quantized conv/linear/matmul runs as an integer kernel.

    Returns:
        ``'<op type> <node name>'`` strings, in graph order.

    Example:
        >>> import tempfile, pathlib, torch
        >>> from razor_ext.export import to_onnx
        >>> f = to_onnx(torch.nn.Linear(3, 2), torch.randn(1, 3), pathlib.Path(tempfile.mkdtemp()) / 'l.onnx')
        >>> unfused_quantized_ops(f)
        []
    """
    graph = optimized_graph(path).graph
    dequantized = {n.output[0] for n in graph.node if n.op_type == 'DequantizeLinear'}
    return [f'{n.op_type} {n.name}' for n in graph.node
            if n.op_type in FLOAT_COMPUTE_OPS and any(i in dequantized for i in n.input)]
