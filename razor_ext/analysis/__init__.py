"""Channel analysis: which channels of a model must be pruned together, found by tracing one
forward (:class:`ChannelAnalyzer`) into channel units (:class:`ChannelUnit`).

Shared machinery: used by pruning (``razor_ext.prune``, channel mutators) and by slimmable NAS.
"""
from razor_ext.analysis.analyzer import Analysis, ChannelAnalyzer, TracerError
from razor_ext.analysis.tracer import FunctionRecorder, frozen_state, module_stack
from razor_ext.analysis.unit import ChannelUnit

__all__ = ['Analysis', 'ChannelAnalyzer', 'ChannelUnit', 'FunctionRecorder', 'TracerError',
           'frozen_state', 'module_stack']
