"""Quantization algorithms."""
from razor_ext.quantization.algorithms.mm_architecture import MMArchitectureQuant
from razor_ext.quantization.algorithms.untrained import UntrainedModelWarning

__all__ = ['MMArchitectureQuant', 'UntrainedModelWarning']
