"""Algorithms: an architecture plus algorithm components (mutator, distiller, quantizer), by
technology: ``nas``, ``pruning``, ``distill``, ``quantization``."""
from razor_ext.models.algorithms.base import BaseAlgorithm
from razor_ext.models.algorithms import distill, nas, pruning  # noqa: E402,F401  (register in MODELS)
from razor_ext.models.algorithms.quantization import MMArchitectureQuant

__all__ = ['BaseAlgorithm', 'MMArchitectureQuant', 'distill', 'nas', 'pruning']
