"""Searchable candidate operations and the mmcv-style conv blocks they are made of."""
from razor_ext.architectures.ops.base import BaseOP
from razor_ext.architectures.ops.conv_module import (ConvModule,
                                                     DepthwiseSeparableConvModule,
                                                     build_activation, build_norm)
from razor_ext.architectures.ops.mobilenet_series import Identity, MBBlock
from razor_ext.architectures.ops.shufflenet_series import (ShuffleBlock, ShuffleXception,
                                                           channel_shuffle)

__all__ = ['BaseOP', 'ConvModule', 'DepthwiseSeparableConvModule', 'Identity', 'MBBlock',
           'ShuffleBlock', 'ShuffleXception', 'build_activation', 'build_norm', 'channel_shuffle']
from razor_ext.architectures.ops.darts_series import DartsDilConv, DartsPoolBN, DartsSepConv, DartsSkipConnect, DartsZero  # noqa: E402,F401,E501
