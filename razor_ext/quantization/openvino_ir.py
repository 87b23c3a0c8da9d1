"""``export_openvino``: a calibrated fake-quant model as OpenVINO IR with int8 layers, verified."""
from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor, nn

from razor_ext.export import OnnxVerificationError, to_openvino
from razor_ext.quantization.onnx_qdq import _output_steps, export_onnx, lacks_vnni

__all__ = ['export_openvino']


def export_openvino(model: nn.Module, example_inputs: Tensor | Sequence[Tensor],
                    path: str | os.PathLike[str], verify: bool = True, *, atol: float = 1e-4) -> Path:
    """Write ``model`` (from :func:`prepare`, calibrated) as OpenVINO IR (``.xml`` + ``.bin``).

    The model is exported as the same QDQ ONNX file as :func:`export_onnx` (verified in
    onnxruntime when ``verify``), which OpenVINO converts into int8 layers. With ``verify`` the
    IR must also match the fake-quant model in OpenVINO within one output quantization step
    plus ``atol``. Needs OpenVINO (``pip install razor_ext[openvino]``).

    On an x86 CPU without VNNI / AMX, OpenVINO's int8 kernels multiply uint8 activations by
    int8 weights and sum pairs in int16, which saturates (an AVX2-only AMD EPYC: up to 16 output
    steps off). There a mismatch in OpenVINO, after the QDQ file itself matched in onnxruntime,
    is a RuntimeWarning naming the way out (the ``'_u8'`` presets, which OpenVINO runs in float
    on such a CPU, or a VNNI / AMX deployment CPU), not an error; elsewhere it raises.

    Args:
        model: a prepared, calibrated model.
        example_inputs: ``(B, ...)`` tensor or tuple of tensors.
        path: the ``.xml`` file to write.
        verify: check the files in onnxruntime and OpenVINO.

    Returns:
        the ``.xml`` path.

    Example:
        >>> import torch, tempfile, pathlib
        >>> from razor_ext.quantization import prepare, calibrate
        >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
        >>> q = calibrate(prepare(net, torch.randn(1, 3, 8, 8)), [torch.randn(4, 3, 8, 8)])
        >>> export_openvino(q, torch.randn(1, 3, 8, 8), pathlib.Path(tempfile.mkdtemp()) / 'q.xml').suffix  # doctest: +SKIP
        '.xml'
    """
    inputs = (example_inputs,) if isinstance(example_inputs, Tensor) else tuple(example_inputs)
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_file = export_onnx(model, inputs, Path(tmp) / 'qdq.onnx', verify=verify)
        step = max(_output_steps(model, 1) + [0.0])
        try:
            return to_openvino(model, inputs, path, verify=verify, onnx_path=onnx_file, rtol=0.0,
                               atol=step * (1 + 1e-5) + atol)
        except OnnxVerificationError as err:
            if not lacks_vnni():
                raise
            # the IR is written (atomically, before the check) and its QDQ source matched
            warnings.warn(f'{err}; the QDQ file itself matches (onnxruntime): this CPU has no '
                          "VNNI, where OpenVINO's u8 x s8 int8 kernels sum int16 pairs and can "
                          "saturate. For OpenVINO on this CPU use the '_u8' presets (e.g. "
                          "'int8_per_channel_u8': run in float here); VNNI / AMX CPUs run the "
                          'default ones exactly', RuntimeWarning, stacklevel=2)
            return path
