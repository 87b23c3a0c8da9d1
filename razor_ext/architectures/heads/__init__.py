"""Heads of mmcls-style classifiers."""
from razor_ext.architectures.heads.darts_subnet_head import DartsSubnetClsHead
from razor_ext.architectures.heads.dynamic_linear_head import DynamicLinearClsHead
from razor_ext.architectures.heads.linear_head import LinearClsHead
from razor_ext.architectures.heads.vit_head import DeiTClsHead, VisionTransformerClsHead

__all__ = ['DartsSubnetClsHead', 'DeiTClsHead', 'DynamicLinearClsHead', 'LinearClsHead', 'VisionTransformerClsHead']
