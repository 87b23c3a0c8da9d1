"""Resource estimators: FLOPs, parameters and (measured) latency of a model or of the current
subnet of a supernet.

Example:
    >>> from torch import nn
    >>> est = ResourceEstimator(input_shape=(1, 3, 8, 8))
    >>> est.estimate(nn.Conv2d(3, 4, 3))['params']
    0.000112
"""
from razor_ext.estimators.latency import LatencyMeter, LatencyResult, measure_latency
from razor_ext.estimators.latency_table import LatencyTable, unit_mutables
from razor_ext.estimators.resource_estimator import ResourceEstimator
from razor_ext.estimators.runtime_timing import (cpu_signature, time_onnx, time_onnx_files,
                                                 time_onnx_rounds)

__all__ = ['LatencyMeter', 'LatencyResult', 'LatencyTable', 'ResourceEstimator', 'cpu_signature',
           'measure_latency', 'time_onnx', 'time_onnx_files', 'time_onnx_rounds', 'unit_mutables']
