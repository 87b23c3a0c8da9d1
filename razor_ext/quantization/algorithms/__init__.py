"""Quantization algorithms."""
from razor_ext.quantization.algorithms.mm_architecture import MMArchitectureQuant

__all__ = ['MMArchitectureQuant']
