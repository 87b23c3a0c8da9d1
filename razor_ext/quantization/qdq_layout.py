"""Keep every quantized conv/linear/matmul fed by a ``DequantizeLinear`` in the exported graph.

onnxruntime fuses ``DQ -> Conv/Gemm/MatMul -> Q`` into one integer kernel only when the
DequantizeLinear feeds the op directly. Between them the quantizer may leave ops that do not
change values (``Flatten``, ``Reshape``, ``Transpose``, ``MaxPool`` ...): onnxruntime moves a DQ across some
(MaxPool) but not across ``Flatten``, so ``DQ -> Flatten -> Gemm`` ran as a float Gemm. The
rewrite here re-quantizes the rearranged tensor with the *same* scale and zero point
(``... -> Flatten -> Q -> DQ -> Gemm``), which is exact: the values already lie on that grid.
"""
from __future__ import annotations

import onnx
from onnx import helper

__all__ = ['requantize_rearranged_inputs']

# ops whose outputs stay on their input's quantization grid (a max of grid values is on it)
_REARRANGING = frozenset({'Flatten', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'MaxPool'})
_CONSUMERS = {'Conv': (0,), 'ConvTranspose': (0,), 'Gemm': (0,), 'MatMul': (0, 1)}


def requantize_rearranged_inputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """Insert ``Q -> DQ`` (same qparams) after rearranging ops that separate a DQ from its consumer.

    Args:
        model: a QDQ model (modified in place and returned).

    Returns:
        ``model``.

    Example:
        >>> from onnx import TensorProto
        >>> nodes = [helper.make_node('DequantizeLinear', ['xq', 's', 'z'], ['xd']),
        ...          helper.make_node('Flatten', ['xd'], ['xf']),
        ...          helper.make_node('Gemm', ['xf', 'w'], ['y'])]
        >>> g = helper.make_graph(nodes, 'g', [], [])
        >>> [n.op_type for n in requantize_rearranged_inputs(helper.make_model(g)).graph.node]
        ['DequantizeLinear', 'Flatten', 'QuantizeLinear', 'DequantizeLinear', 'Gemm']
    """
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    new_nodes: list[onnx.NodeProto] = []
    count = 0
    for node in graph.node:
        for index in _CONSUMERS.get(node.op_type, ()):
            if index >= len(node.input):
                continue
            name, rearranged = node.input[index], False
            source = producer.get(name)
            while source is not None and source.op_type in _REARRANGING:
                rearranged = True
                source = producer.get(source.input[0])
            if not rearranged or source is None or source.op_type != 'DequantizeLinear':
                continue
            axis = [a for a in source.attribute if a.name == 'axis']
            if axis:  # per-channel activations: the axis may have moved; leave them alone
                continue
            count += 1
            q_out, dq_out = f'{name}_requant_q{count}', f'{name}_requant_dq{count}'
            qparams = list(source.input[1:])
            new_nodes.append(helper.make_node('QuantizeLinear', [name] + qparams, [q_out],
                                              name=f'{node.name}_requant_q{count}'))
            new_nodes.append(helper.make_node('DequantizeLinear', [q_out] + qparams, [dq_out],
                                              name=f'{node.name}_requant_dq{count}'))
            node.input[index] = dq_out
        new_nodes.append(node)
    del graph.node[:]
    graph.node.extend(new_nodes)
    return model
