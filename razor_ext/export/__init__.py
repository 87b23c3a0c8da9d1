"""Deployment: ONNX export verified in onnxruntime, OpenVINO IR, and latency in both runtimes."""
from razor_ext.export.benchmark import BenchmarkResult, benchmark, latency_measure
from razor_ext.export.fusion import optimized_op_types, unfused_quantized_ops
from razor_ext.export.onnx_export import OnnxVerificationError, onnxruntime_outputs, to_onnx
from razor_ext.export.openvino_export import openvino_outputs, to_openvino
from razor_ext.export.runtime_inputs import graph_inputs
from razor_ext.export.runtime_sessions import RUNTIMES, RuntimeSession, require_openvino

__all__ = ['BenchmarkResult', 'OnnxVerificationError', 'RUNTIMES', 'RuntimeSession', 'benchmark',
           'graph_inputs', 'latency_measure', 'onnxruntime_outputs', 'openvino_outputs', 'optimized_op_types',
           'require_openvino', 'to_onnx', 'to_openvino', 'unfused_quantized_ops']
