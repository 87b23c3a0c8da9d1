"""Quantizers: prepare a traceable model for PTQ/QAT and QDQ export (MMRazor's names)."""
from razor_ext.quantization.quantizers.backends import OpenVINOQuantizer, TensorRTQuantizer
from razor_ext.quantization.quantizers.native import NativeQuantizer
from razor_ext.quantization.quantizers.qat_modules import QConv1d, QConv2d, QConv3d, QLinear

__all__ = ['NativeQuantizer', 'OpenVINOQuantizer', 'TensorRTQuantizer', 'QConv1d', 'QConv2d',
           'QConv3d', 'QLinear']
