"""Backend quantizers by MMRazor's names: TensorRT and OpenVINO QDQ conventions.

Only the onnxruntime path (:class:`~razor_ext.quantization.quantizers.NativeQuantizer`) is verified on
this project's machines; these two produce the QDQ placement and ranges their backends document
and are checked here only in onnxruntime.
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
    """OpenVINO's convention: symmetric per-channel int8 weights, unsigned affine activations,
    fake quants on the inputs of quantized ops.

    Example:
        >>> OpenVINOQuantizer().qconfig.weight.per_channel
        True
    """

    default_qconfig = 'int8_per_channel'
    quantize_outputs = False
