"""Task modules: tracers and channel analysis."""
from razor_ext.models.task_modules.channel_analysis import (ChannelAnalyzer, ChannelUnit,
                                                            TracerError)

__all__ = ['ChannelAnalyzer', 'ChannelUnit', 'TracerError']
