"""``to_openvino``: a model (or an exported ONNX file) as OpenVINO IR, checked against PyTorch.

OpenVINO is optional (``pip install razor_ext[openvino]``); without it the call raises an
ImportError that says how to install it.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils import _pytree as pytree

from razor_ext.export.onnx_export import OnnxVerificationError, to_onnx
from razor_ext.export.runtime_inputs import as_input_tuple
from razor_ext.export.runtime_sessions import RuntimeSession, require_openvino
from razor_ext.fileio import atomic_write_bytes

__all__ = ['openvino_outputs', 'to_openvino']


def openvino_outputs(path: str | os.PathLike[str], inputs: Sequence[Tensor], threads: int = 1,
                     precision: str = 'f32') -> list[np.ndarray]:
    """Run an ONNX or OpenVINO IR file in OpenVINO's CPU plugin.

    Args:
        path: ``.onnx`` or ``.xml``.
        inputs: one CPU tensor per graph input.
        threads: intra-op threads.
        precision: ``INFERENCE_PRECISION_HINT`` of float layers (``'f32'`` to check values; the
            plugin's own choice may be bf16 on CPUs with AMX).

    Returns:
        the outputs as numpy arrays, in the graph's order.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / 'lin.onnx'
        >>> _ = to_onnx(torch.nn.Linear(3, 2), torch.randn(1, 3), f)
        >>> openvino_outputs(f, [torch.randn(4, 3)])[0].shape  # doctest: +SKIP
        (4, 2)
    """
    session = RuntimeSession(path, 'openvino', threads, {'INFERENCE_PRECISION_HINT': precision})
    return session([np.ascontiguousarray(t.detach().cpu().numpy()) for t in inputs])


def _compare(path: Path, got: list[np.ndarray], expected: list[Tensor], rtol: float, atol: float) -> None:
    if len(got) != len(expected):
        raise OnnxVerificationError(f'{path}: OpenVINO gave {len(got)} outputs, PyTorch {len(expected)}')
    for i, (ov_out, ref_t) in enumerate(zip(got, expected)):
        ref = ref_t.detach().cpu().numpy().astype(np.float64)
        if ov_out.shape != ref.shape:
            raise OnnxVerificationError(f'{path}: output {i} has shape {ov_out.shape} in OpenVINO, '
                                        f'{ref.shape} in PyTorch')
        diff = np.abs(ov_out.astype(np.float64) - ref)
        if (diff > atol + rtol * np.abs(ref)).any():
            raise OnnxVerificationError(f'{path}: output {i} differs from PyTorch in OpenVINO by up to '
                                        f'{diff.max():.3g} (rtol={rtol}, atol={atol})')


def to_openvino(model: nn.Module, example_inputs: Tensor | Sequence[Tensor],
                path: str | os.PathLike[str], verify: bool = True, *,
                onnx_path: str | os.PathLike[str] | None = None, rtol: float = 1e-3,
                atol: float = 1e-4, compress_to_fp16: bool = False) -> Path:
    """Write ``model`` as OpenVINO IR (``path`` ``.xml`` + ``.bin``) and check it against PyTorch.

    The model goes through :func:`~razor_ext.export.to_onnx` (or ``onnx_path``, an ONNX file
    already exported from it, such as the int8 QDQ file of
    :func:`razor_ext.quantization.export_onnx`: OpenVINO reads its QuantizeLinear /
    DequantizeLinear pairs as int8 layers), then ``openvino.convert_model``. Both files are written
    atomically (``.bin`` first). With ``verify=True`` the example inputs run in OpenVINO (f32
    float layers) and in PyTorch; an output outside ``atol + rtol * |expected|`` raises
    :class:`~razor_ext.export.OnnxVerificationError` (files kept for inspection).

    Args:
        model: the PyTorch model (eval mode is used; its mode is restored).
        example_inputs: ``(B, ...)`` tensor or tuple of tensors.
        path: the ``.xml`` file to write; the weights go to the same name with ``.bin``.
        verify: compare OpenVINO's outputs with the model's.
        onnx_path: convert this ONNX file instead of exporting ``model`` again.
        rtol, atol: verification tolerances (a quantized file needs about one output step).
        compress_to_fp16: store float weights as fp16 (OpenVINO's default for IR; off here so
            the check compares like with like).

    Returns:
        the ``.xml`` path.

    Example:
        >>> import tempfile, pathlib
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
        >>> xml = to_openvino(net, torch.randn(1, 3, 8, 8), pathlib.Path(tempfile.mkdtemp()) / 'm.xml')  # doctest: +SKIP
        >>> xml.with_suffix('.bin').is_file()  # doctest: +SKIP
        True
    """
    ov = require_openvino()
    if not isinstance(model, nn.Module):
        raise TypeError(f'model must be an nn.Module, got {type(model).__name__}')
    inputs = as_input_tuple(example_inputs)
    path = Path(path)
    if path.suffix != '.xml':
        raise ValueError(f'to_openvino: path must end in .xml (OpenVINO IR), got {path}')
    if not path.parent.is_dir():
        raise FileNotFoundError(f'to_openvino: the folder of {path} does not exist')
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        source = Path(onnx_path) if onnx_path is not None else \
            to_onnx(model, inputs, Path(tmp) / 'model.onnx', verify=False)
        if not source.is_file():
            raise FileNotFoundError(f'to_openvino: onnx_path {source} does not exist')
        ov_model = ov.convert_model(str(source))
        staged = Path(tmp) / 'model.xml'
        ov.save_model(ov_model, str(staged), compress_to_fp16=compress_to_fp16)
        atomic_write_bytes(path.with_suffix('.bin'), staged.with_suffix('.bin').read_bytes())
        atomic_write_bytes(path, staged.read_bytes())
    if verify:
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                expected = [t for t in pytree.tree_leaves(model(*inputs)) if isinstance(t, Tensor)]
        finally:
            model.train(was_training)
        _compare(path, openvino_outputs(path, inputs), expected, rtol, atol)
    return path
