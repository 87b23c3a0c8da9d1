"""Resource estimators: FLOPs, parameters and (measured) latency of a model or of the current
subnet of a supernet.

Example:
    >>> from torch import nn
    >>> est = ResourceEstimator(input_shape=(1, 3, 8, 8))
    >>> est.estimate(nn.Conv2d(3, 4, 3))['params']
    0.000112
"""
from razor_ext.estimators.latency import LatencyMeter, LatencyResult, measure_latency
from razor_ext.estimators.resource_estimator import ResourceEstimator

__all__ = ['LatencyMeter', 'LatencyResult', 'ResourceEstimator', 'measure_latency']
