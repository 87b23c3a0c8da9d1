"""Structured pruning: analyse channel units, score them, remove channels physically, reload."""
from razor_ext.pruning.analyze import AnalysisReport, analyze
from razor_ext.pruning.check import PruningCheckError
from razor_ext.pruning.checkpoint import load_pruned, save_pruned
from razor_ext.pruning.importance import CRITERIA, atom_importance
from razor_ext.pruning.prune import flops_of, prune

__all__ = ['AnalysisReport', 'CRITERIA', 'PruningCheckError', 'analyze', 'atom_importance',
           'flops_of', 'load_pruned', 'prune', 'save_pruned']
