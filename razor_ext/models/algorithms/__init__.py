"""Algorithms: an architecture plus algorithm components (mutator, distiller, quantizer)."""
from razor_ext.models.algorithms.base import BaseAlgorithm

__all__ = ['BaseAlgorithm']
from razor_ext.models.algorithms import distill  # noqa: E402,F401
from razor_ext.models.algorithms import nas  # noqa: E402,F401
