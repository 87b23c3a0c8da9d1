"""Weight-only post-training quantization for LLMs: GPTQ (Frantar et al., 2022) and round-to-
nearest, ``WeightOnlyQuantLinear`` over the packed int4 / int8 kernel, save / load, and export
to onnxruntime's ``MatMulNBits``."""
from razor_ext.quantization.weight_only.algorithm import GPTQ
from razor_ext.quantization.weight_only.checkpoint import load_weight_only, save_weight_only
from razor_ext.quantization.weight_only.gptq import gptq
from razor_ext.quantization.weight_only.gptq_layer import gptq_quantize
from razor_ext.quantization.weight_only.group_quant import rtn_quantize
from razor_ext.quantization.weight_only.linear import WeightOnlyQuantLinear
from razor_ext.quantization.weight_only.onnx_export import MatMulNBitsLinear, export_matmulnbits

__all__ = ['GPTQ', 'MatMulNBitsLinear', 'WeightOnlyQuantLinear', 'export_matmulnbits', 'gptq', 'gptq_quantize', 'load_weight_only', 'rtn_quantize',
           'save_weight_only']
