"""Channel analysis: which channels of a model must be pruned together."""
from razor_ext.models.task_modules.channel_analysis.analyzer import (Analysis, ChannelAnalyzer,
                                                                     TracerError)
from razor_ext.models.task_modules.channel_analysis.unit import ChannelUnit

__all__ = ['Analysis', 'ChannelAnalyzer', 'ChannelUnit', 'TracerError']
