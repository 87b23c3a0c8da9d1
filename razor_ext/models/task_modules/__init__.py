"""Task modules: tracers and channel analysis (pruning), resource estimators and latency (NAS)."""
from razor_ext.models.task_modules.channel_analysis import (ChannelAnalyzer, ChannelUnit,
                                                            TracerError)
from razor_ext.models.task_modules.estimators import ResourceEstimator

__all__ = ['ChannelAnalyzer', 'ChannelUnit', 'ResourceEstimator', 'TracerError']
