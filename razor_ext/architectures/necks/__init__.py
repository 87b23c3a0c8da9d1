"""Necks of mmcls-style classifiers."""
from razor_ext.architectures.necks.gap import GlobalAveragePooling

__all__ = ['GlobalAveragePooling']
