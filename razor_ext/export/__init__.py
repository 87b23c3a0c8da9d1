"""ONNX export of any (compressed) model, checked in onnxruntime against PyTorch."""
from razor_ext.export.onnx_export import OnnxVerificationError, onnxruntime_outputs, to_onnx

__all__ = ['OnnxVerificationError', 'onnxruntime_outputs', 'to_onnx']
