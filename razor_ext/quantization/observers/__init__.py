"""Observers: statistics of a tensor turned into quantization parameters (MMRazor's names)."""
from razor_ext.quantization.observers.base import BaseObserver, ObserverError, qparams_from_range
from razor_ext.quantization.observers.histogram import HistogramObserver
from razor_ext.quantization.observers.lsq import LSQObserver, LSQPerChannelObserver
from razor_ext.quantization.observers.minmax import (MinMaxObserver, MovingAverageMinMaxObserver,
                                                     MovingAveragePerChannelMinMaxObserver,
                                                     PerChannelMinMaxObserver)

__all__ = ['BaseObserver', 'ObserverError', 'qparams_from_range', 'HistogramObserver', 'LSQObserver',
           'LSQPerChannelObserver', 'MinMaxObserver', 'MovingAverageMinMaxObserver',
           'MovingAveragePerChannelMinMaxObserver', 'PerChannelMinMaxObserver']
