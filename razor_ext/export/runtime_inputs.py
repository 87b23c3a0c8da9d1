"""Inputs of an exported file: the example tensors given, or random ones shaped from the graph."""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import onnx
import torch
from torch import Tensor

__all__ = ['as_input_tuple', 'graph_inputs']

_NP_TYPES = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.DOUBLE: np.float64,
             onnx.TensorProto.FLOAT16: np.float16, onnx.TensorProto.INT64: np.int64,
             onnx.TensorProto.INT32: np.int32, onnx.TensorProto.UINT8: np.uint8,
             onnx.TensorProto.INT8: np.int8, onnx.TensorProto.BOOL: np.bool_}


def as_input_tuple(example_inputs: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    """``example_inputs`` as a tuple of tensors (a single tensor becomes a 1-tuple).

    Example:
        >>> len(as_input_tuple(torch.zeros(1, 3)))
        1
    """
    if isinstance(example_inputs, Tensor):
        return (example_inputs,)
    if isinstance(example_inputs, (list, tuple)) and example_inputs \
            and all(isinstance(t, Tensor) for t in example_inputs):
        return tuple(example_inputs)
    raise TypeError('example_inputs must be a tensor or a non-empty list/tuple of tensors, got '
                    f'{type(example_inputs).__name__}')


def graph_inputs(path: str | os.PathLike[str], batch_size: int = 1, seed: int = 0) -> list[np.ndarray]:
    """Random arrays for every input of the ONNX file at ``path``.

    Symbolic dimensions (a dynamic batch) become ``batch_size``; values are standard normal for
    floating inputs and zeros for integer ones.

    Example:
        >>> import tempfile, pathlib
        >>> from razor_ext.export import to_onnx
        >>> f = to_onnx(torch.nn.Linear(3, 2), torch.randn(1, 3), pathlib.Path(tempfile.mkdtemp()) / 'l.onnx')
        >>> [a.shape for a in graph_inputs(f, batch_size=4)]
        [(4, 3)]
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    model = onnx.load(str(path), load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}
    rng = np.random.default_rng(seed)
    arrays = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor_type = value.type.tensor_type
        shape = [d.dim_value if d.HasField('dim_value') else batch_size for d in tensor_type.shape.dim]
        dtype = _NP_TYPES.get(tensor_type.elem_type)
        if dtype is None:
            raise ValueError(f'{path}: input {value.name!r} has an element type ({tensor_type.elem_type}) '
                             'that cannot be generated; pass example_inputs')
        if np.issubdtype(dtype, np.floating):
            arrays.append(rng.standard_normal(shape).astype(dtype))
        else:
            arrays.append(np.zeros(shape, dtype=dtype))
    return arrays
