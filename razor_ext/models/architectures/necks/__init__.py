"""Necks of mmcls-style classifiers."""
from razor_ext.models.architectures.necks.gap import GlobalAveragePooling

__all__ = ['GlobalAveragePooling']
