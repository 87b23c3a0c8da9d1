"""Algorithms: an architecture plus algorithm components (mutator, distiller, quantizer)."""
from razor_ext.models.algorithms.base import BaseAlgorithm

__all__ = ['BaseAlgorithm']
from razor_ext.models.algorithms import pruning  # noqa: E402,F401  (registers ItePruneAlgorithm, GroupFisherAlgorithm)
from razor_ext.models.algorithms.quantization import MMArchitectureQuant  # noqa: E402

__all__ += ['MMArchitectureQuant']

from razor_ext.models.algorithms import distill  # noqa: E402,F401
from razor_ext.models.algorithms import nas  # noqa: E402,F401
