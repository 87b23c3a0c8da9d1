"""Quantization algorithms."""
from razor_ext.models.algorithms.quantization.mm_architecture import MMArchitectureQuant

__all__ = ['MMArchitectureQuant']
