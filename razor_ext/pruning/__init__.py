"""Structured pruning: analyse channel units, score them, remove channels physically, reload;
channel mutators and the pruning algorithms (ItePrune, GroupFisher) for pruning during training.

Example:
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 3))
    >>> small = prune(model, torch.randn(1, 3, 8, 8), ratio=0.5)
    >>> small[0].out_channels
    4
"""
from razor_ext.pruning import algorithms, mutators
from razor_ext.pruning.algorithms import (DCFF, DMCP, GroupFisherAlgorithm,
                                          GroupFisherDeploySubModel, GroupFisherSubModel,
                                          ItePruneAlgorithm)
from razor_ext.pruning.analyze import AnalysisReport, analyze
from razor_ext.pruning.check import PruningCheckError
from razor_ext.pruning.checkpoint import load_pruned, save_pruned
from razor_ext.pruning.importance import CRITERIA, atom_importance
from razor_ext.pruning.mutators import (ChannelMutator, DCFFChannelMutator, DMCPChannelMutator,
                                        MutableChannelUnit, SlimmableChannelMutator,
                                        SlimmableChannelUnit)
from razor_ext.pruning.dmcp_subnet_hook import DMCPSubnetHook
from razor_ext.pruning.mutator_sub_model import mutator_sub_model
from razor_ext.pruning.prune import flops_of, prune
from razor_ext.pruning.sparse_gpt import (SparseGPT, magnitude_prune, sparse_gpt, sparse_gpt_prune,
                                          to_semi_structured)

__all__ = ['AnalysisReport', 'CRITERIA', 'ChannelMutator', 'GroupFisherAlgorithm',
           'ItePruneAlgorithm', 'MutableChannelUnit', 'PruningCheckError', 'SlimmableChannelMutator',
           'SlimmableChannelUnit', 'algorithms', 'analyze', 'atom_importance', 'flops_of',
           'load_pruned', 'mutators', 'prune', 'save_pruned']
__all__ += ['DCFF', 'DCFFChannelMutator', 'DMCP', 'DMCPChannelMutator',
            'DMCPSubnetHook', 'GroupFisherDeploySubModel', 'GroupFisherSubModel',
            'mutator_sub_model']
__all__ += ['SparseGPT', 'magnitude_prune', 'sparse_gpt', 'sparse_gpt_prune',
            'to_semi_structured']
from razor_ext.pruning import not_implemented  # noqa: E402,F401  (registers MMRazor names it lacks)
