"""Heads of mmcls-style classifiers."""
from razor_ext.architectures.heads.linear_head import LinearClsHead

__all__ = ['LinearClsHead']
