"""Necks of mmcls-style classifiers."""
from razor_ext.architectures.necks.gap import GlobalAveragePooling
from razor_ext.architectures.necks.squeeze_mean import SqueezeMeanPoolingWithDropout

__all__ = ['GlobalAveragePooling', 'SqueezeMeanPoolingWithDropout']
