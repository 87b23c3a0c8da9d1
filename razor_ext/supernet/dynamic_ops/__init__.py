"""Dynamic ops: torch layers with elastic widths, kernel sizes, depth and heads, driven by mutables
(``register_mutable_attr``) and turned into plain torch layers by ``to_static_op()``."""
from razor_ext.supernet.dynamic_ops.dynamic_attention import (DynamicMultiheadAttention,
                                                              MultiheadSelfAttention)
from razor_ext.supernet.dynamic_ops.dynamic_conv import DynamicConv2d, OFAConv2d
from razor_ext.supernet.dynamic_ops.dynamic_linear import DynamicLinear
from razor_ext.supernet.dynamic_ops.dynamic_mixin import DynamicMixin
from razor_ext.supernet.dynamic_ops.dynamic_norm import DynamicBatchNorm2d, DynamicLayerNorm
from razor_ext.supernet.dynamic_ops.dynamic_resizer import DynamicInputResizer, InputResizer
from razor_ext.supernet.dynamic_ops.dynamic_sequential import DynamicSequential

BigNasConv2d = DynamicConv2d

__all__ = ['BigNasConv2d', 'DynamicBatchNorm2d', 'DynamicConv2d', 'DynamicInputResizer', 'DynamicLayerNorm', 'DynamicLinear',
           'DynamicMixin', 'DynamicMultiheadAttention', 'DynamicSequential', 'InputResizer',
           'MultiheadSelfAttention', 'OFAConv2d']
