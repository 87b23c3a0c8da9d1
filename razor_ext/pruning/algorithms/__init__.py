"""Pruning algorithms."""
from razor_ext.pruning.algorithms.dcff import DCFF, dcff_temperature
from razor_ext.pruning.algorithms.dmcp import DMCP, dmcp_flops_loss
from razor_ext.pruning.algorithms.group_fisher import GroupFisherAlgorithm
from razor_ext.pruning.algorithms.group_fisher_sub_model import (GroupFisherDeploySubModel,
                                                                 GroupFisherSubModel)
from razor_ext.pruning.algorithms.ite_prune import ItePruneAlgorithm

__all__ = ['DCFF', 'dcff_temperature', 'DMCP', 'dmcp_flops_loss', 'GroupFisherAlgorithm', 'GroupFisherDeploySubModel', 'GroupFisherSubModel',
           'ItePruneAlgorithm']
