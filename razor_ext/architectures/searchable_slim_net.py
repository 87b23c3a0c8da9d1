"""``SearchableSlimNet``: a small supernet searching an operator and a channel width per block
(the joint compression search's test and demo space; bit widths are attached on top by
``razor_ext.quantization.attach_bit_widths``)."""
from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from razor_ext.registry import MODELS
from razor_ext.supernet.dynamic_ops import DynamicConv2d, DynamicLinear
from razor_ext.supernet.mutables import OneShotMutableOP, OneShotMutableValue

__all__ = ['SearchableSlimNet', 'slim_block']


def slim_block(cin: int, in_width: OneShotMutableValue | None, widths: Sequence[int], stride: int,
               alias: str) -> tuple[OneShotMutableOP, OneShotMutableValue]:
    """One block: ``conv3x3`` or depthwise-separable ``dwsep3x3``, output width from ``widths``.

    Both candidates' output convs share one ``OneShotMutableValue`` (alias ``'<alias>.width'``),
    so the block's width is one search group whatever operator is chosen; the input width is the
    previous block's mutable (``in_width``; None: the fixed ``cin``), so static subnets slice the
    input channels too. Returns the block and its width mutable.
    """
    width = OneShotMutableValue(list(widths), alias=f'{alias}.width')
    cout = max(widths)
    conv = DynamicConv2d(cin, cout, 3, stride=stride, padding=1)
    conv.register_mutable_attr('out_channels', width)
    dw = DynamicConv2d(cin, cin, 3, stride=stride, padding=1, groups=cin)
    pw = DynamicConv2d(cin, cout, 1)
    pw.register_mutable_attr('out_channels', width)
    if in_width is not None:
        for layer in (conv, dw, pw):
            layer.register_mutable_attr('in_channels', in_width)
    return OneShotMutableOP({
        'conv3x3': nn.Sequential(conv, nn.ReLU()),
        'dwsep3x3': nn.Sequential(dw, nn.ReLU(), pw, nn.ReLU()),
    }, alias=f'{alias}.op'), width


@MODELS.register_module()
class SearchableSlimNet(nn.Module):
    """A fixed stem conv, blocks each choosing operator and width, global pooling, a linear head.

    Args:
        in_channels: image channels.
        stem_channels: stem conv width (fixed).
        widths: per block, the width choices (the largest is the supernet's width).
        strides: per block stride.
        num_classes: classes.

    Shapes: ``(N, in_channels, H, W)`` -> ``(N, num_classes)``.

    Example:
        >>> import torch
        >>> net = SearchableSlimNet(widths=((4, 8), (8, 16)), strides=(2, 2))
        >>> net(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, in_channels: int = 1, stem_channels: int = 16,
                 widths: Sequence[Sequence[int]] = ((16, 32), (32, 64), (32, 64)),
                 strides: Sequence[int] = (2, 2, 1), num_classes: int = 10) -> None:
        super().__init__()
        if len(widths) != len(strides) or not widths:
            raise ValueError(f'widths and strides must be non-empty and as long as each other, got '
                             f'{len(widths)} and {len(strides)}')
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stem_channels, 3, padding=1), nn.ReLU())
        blocks, cin, in_width = [], stem_channels, None
        for i, (choices, stride) in enumerate(zip(widths, strides)):
            block, in_width = slim_block(cin, in_width, choices, stride, alias=f'blocks.{i}')
            blocks.append(block)
            cin = max(choices)
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = DynamicLinear(cin, num_classes)
        self.head.register_mutable_attr('in_features', in_width)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.pool(self.blocks(self.stem(x))))
