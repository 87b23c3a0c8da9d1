"""Backend quantizers by MMRazor's names: TensorRT and OpenVINO QDQ conventions.

Both produce the QDQ placement and ranges their backends document (MMRazor's
``configs/quantization/ptq/base/ptq_{openvino,tensorrt}_*`` settings). The OpenVINO files are run
in OpenVINO by the tests where it is installed; TensorRT files are checked in onnxruntime only
(no GPU here).
"""
from __future__ import annotations

from razor_ext.quantization.quantizers.native import NativeQuantizer
from razor_ext.registry import MODELS

__all__ = ['TensorRTQuantizer', 'OpenVINOQuantizer']


@MODELS.register_module()
class TensorRTQuantizer(NativeQuantizer):
    """TensorRT's explicit-quantization convention: symmetric int8 ``[-127, 127]`` everywhere,
    per-channel weights, Q/DQ only on the inputs of conv/linear/matmul/add (TensorRT fuses the
    output side itself).

    Example:
        >>> TensorRTQuantizer().qconfig.activation.quant_range
        (-127, 127)
    """

    default_qconfig = 'tensorrt_int8'
    quantize_outputs = False


@MODELS.register_module()
class OpenVINOQuantizer(NativeQuantizer):
    """OpenVINO's convention: symmetric per-channel int8 weights on ``[-127, 127]`` (MMRazor's
    ``is_symmetric_range``), unsigned affine activations, fake quants on the inputs of quantized ops.

    Example:
        >>> OpenVINOQuantizer().qconfig.weight.per_channel
        True
    """

    default_qconfig = 'openvino_int8'
    quantize_outputs = False
