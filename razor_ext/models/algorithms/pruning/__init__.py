"""Pruning algorithms."""
from razor_ext.models.algorithms.pruning.group_fisher import GroupFisherAlgorithm
from razor_ext.models.algorithms.pruning.ite_prune import ItePruneAlgorithm

__all__ = ['GroupFisherAlgorithm', 'ItePruneAlgorithm']
