"""``to_onnx``: export a model to an ONNX file (atomically) and verify it in onnxruntime."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils import _pytree as pytree

from razor_ext.fileio import atomic_path


class OnnxVerificationError(ValueError):
    """The exported file runs in onnxruntime but its outputs differ from PyTorch's."""


def _as_tuple(example_inputs: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    if isinstance(example_inputs, Tensor):
        return (example_inputs,)
    if isinstance(example_inputs, (list, tuple)) and all(isinstance(t, Tensor) for t in example_inputs):
        return tuple(example_inputs)
    raise TypeError('example_inputs must be a tensor or a list/tuple of tensors, got '
                    f'{type(example_inputs).__name__}')


def onnxruntime_outputs(path: str | os.PathLike[str], inputs: Sequence[Tensor], *,
                        graph_optimizations: bool = True) -> list[np.ndarray]:
    """Run the ONNX file at ``path`` in onnxruntime (CPU, default session options).

    Args:
        path: an ONNX file.
        inputs: one CPU tensor per graph input, in the graph's input order.
        graph_optimizations: False runs the graph as written (no fusion into int8 kernels: a QDQ
            file then computes DequantizeLinear -> float op, the file's exact meaning).

    Returns:
        the graph's outputs as numpy arrays, in the graph's output order.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / 'lin.onnx'
        >>> _ = to_onnx(torch.nn.Linear(3, 2), torch.randn(1, 3), f)
        >>> onnxruntime_outputs(f, [torch.randn(4, 3)])[0].shape
        (4, 2)
    """
    import onnxruntime as ort  # imported on use: only export checks need it

    opts = ort.SessionOptions()
    if not graph_optimizations:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), opts, providers=['CPUExecutionProvider'])
    names = [i.name for i in session.get_inputs()]
    if len(names) != len(inputs):
        raise ValueError(f'{path} has {len(names)} inputs ({names}) but {len(inputs)} tensors were given')
    feed = {name: t.detach().cpu().numpy() for name, t in zip(names, inputs)}
    return session.run(None, feed)


def _check_no_supernet_ops(model: nn.Module) -> None:
    """A supernet's dynamic ops run razor_ext's custom kernels, which ONNX cannot hold; the
    export is of a chosen subnet, made of torch modules."""
    from razor_ext.supernet.dynamic_ops import DynamicMixin  # the NAS package imports export
    for name, module in model.named_modules():
        if isinstance(module, DynamicMixin):
            raise ValueError(
                f"to_onnx: {name or 'the model'} ({type(module).__name__}) is a supernet's "
                "dynamic op, which ONNX cannot hold; export the chosen subnet instead: "
                "`_, static = razor_ext.supernet.fix_subnet.export_fix_subnet(model, slice_weight=True)`, "
                "then to_onnx(static, ...)")


def to_onnx(
    model: nn.Module,
    example_inputs: Tensor | Sequence[Tensor],
    path: str | os.PathLike[str],
    verify: bool = True,
    *,
    opset: int = 17,
    dynamic_batch: bool = True,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    rtol: float = 1e-3,
    atol: float = 1e-4,
    dynamo: bool = False,
) -> Path:
    """Export ``model`` (in eval mode) to ONNX at ``path`` and check it in onnxruntime.

    The file is written atomically: a failed export never replaces an earlier good file. With
    ``verify=True`` the example inputs run through onnxruntime and PyTorch, and every output must
    agree within ``rtol``/``atol``, else :class:`OnnxVerificationError` (the file is kept, so it
    can be inspected). The model's train/eval mode is restored afterwards.

    Args:
        model: any module whose forward takes the example inputs positionally.
        example_inputs: ``(B, ...)`` tensor or tuple of tensors.
        path: the ``.onnx`` file to write.
        verify: run onnxruntime and compare with PyTorch.
        opset: ONNX opset (>= 13 for per-channel QuantizeLinear).
        dynamic_batch: mark dim 0 of every input and output as dynamic.
        input_names, output_names: graph names (default ``input_0...`` / ``output_0...``).
        rtol, atol: verification tolerances.
        dynamo: use torch's dynamo exporter (needs onnxscript) instead of the TorchScript one.

    Returns:
        the path written.

    Example:
        >>> import tempfile, pathlib
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
        >>> out = to_onnx(model, torch.randn(1, 3, 8, 8), pathlib.Path(tempfile.mkdtemp()) / 'm.onnx')
        >>> out.suffix
        '.onnx'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f'model must be an nn.Module, got {type(model).__name__}')
    _check_no_supernet_ops(model)
    inputs = _as_tuple(example_inputs)
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f'to_onnx: the folder of {path} does not exist')
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            expected = model(*inputs)
        flat_expected = [t for t in pytree.tree_leaves(expected) if isinstance(t, Tensor)]
        in_names = list(input_names or [f'input_{i}' for i in range(len(inputs))])
        out_names = list(output_names or [f'output_{i}' for i in range(len(flat_expected))])
        dynamic_axes = None
        if dynamic_batch:
            dynamic_axes = {name: {0: 'batch'} for name in in_names + out_names}
        with atomic_path(path) as tmp:
            kwargs: dict[str, Any] = dict(input_names=in_names, output_names=out_names,
                                          opset_version=opset, dynamo=dynamo)
            if dynamo:
                if dynamic_batch:
                    kwargs['dynamic_shapes'] = tuple({0: torch.export.Dim.AUTO} for _ in inputs)
            else:
                kwargs['dynamic_axes'] = dynamic_axes
            torch.onnx.export(model, inputs, str(tmp), **kwargs)
    finally:
        model.train(was_training)
    if verify:
        got = onnxruntime_outputs(path, inputs)
        if len(got) != len(flat_expected):
            raise OnnxVerificationError(f'{path}: onnxruntime gave {len(got)} outputs, PyTorch '
                                        f'{len(flat_expected)}')
        for name, ort_out, torch_out in zip(out_names, got, flat_expected):
            ref = torch_out.detach().cpu().numpy()
            if ort_out.shape != ref.shape:
                raise OnnxVerificationError(f'{path}: output {name} has shape {ort_out.shape} in '
                                            f'onnxruntime but {ref.shape} in PyTorch')
            if not np.allclose(ort_out, ref, rtol=rtol, atol=atol):
                diff = float(np.max(np.abs(ort_out.astype(np.float64) - ref.astype(np.float64))))
                raise OnnxVerificationError(f'{path}: output {name} differs from PyTorch by up to '
                                            f'{diff:.3g} (rtol={rtol}, atol={atol})')
    return path
