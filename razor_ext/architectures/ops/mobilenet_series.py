"""``MBBlock``: the inverted-residual candidate of SPOS-MobileNet (MMRazor's name and children:
``expand_conv``, ``depthwise_conv``, ``linear_conv``)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from razor_ext.architectures.ops.base import BaseOP
from razor_ext.architectures.ops.conv_module import ConvModule
from razor_ext.registry import MODELS


def drop_path(x: Tensor, rate: float, training: bool) -> Tensor:
    """Stochastic depth: zero whole samples with probability ``rate`` and rescale the rest."""
    if rate == 0.0 or not training:
        return x
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


@MODELS.register_module()
class MBBlock(BaseOP):
    """1x1 expand (when ``expand_ratio != 1``) -> depthwise kxk -> 1x1 linear, residual when the
    shape is kept.

    Args:
        kernel_size: depthwise kernel.
        expand_ratio: hidden channels = ``in_channels * expand_ratio``.
        in_channels, out_channels, stride: given by the backbone (``module_kwargs``).
        conv_cfg, norm_cfg, act_cfg: mmcv layer configs (MMRazor's default act is ReLU).
        drop_path_rate: stochastic depth on the residual branch while training.
        se_cfg, with_cp, with_attentive_shortcut: accepted for config compatibility; only
            ``None`` / ``False`` are supported here.

    Shapes: ``(N, in_channels, H, W)`` -> ``(N, out_channels, H / stride, W / stride)``.

    Example:
        >>> MBBlock(3, 6, in_channels=8, out_channels=8)(torch.randn(1, 8, 5, 5)).shape
        torch.Size([1, 8, 5, 5])
    """

    def __init__(self, kernel_size: int, expand_ratio: int, in_channels: int, out_channels: int,
                 stride: int = 1, se_cfg: Mapping[str, Any] | None = None,
                 conv_cfg: Mapping[str, Any] | None = None,
                 norm_cfg: Mapping[str, Any] | None = {'type': 'BN'},
                 act_cfg: Mapping[str, Any] | None = {'type': 'ReLU'}, drop_path_rate: float = 0.0,
                 with_cp: bool = False, with_attentive_shortcut: bool = False) -> None:
        super().__init__(in_channels, out_channels, stride)
        if stride not in (1, 2):
            raise ValueError(f'MBBlock: stride must be 1 or 2, got {stride}')
        if se_cfg is not None or with_attentive_shortcut:
            raise ValueError('MBBlock: se_cfg and with_attentive_shortcut are not supported here')
        self.kernel_size, self.expand_ratio, self.with_cp = kernel_size, expand_ratio, with_cp
        self.drop_path_rate = float(drop_path_rate)
        self.with_res_shortcut = stride == 1 and in_channels == out_channels
        self.mid_channels = in_channels * expand_ratio
        self.with_expand_conv = self.mid_channels != in_channels
        if self.with_expand_conv:
            self.expand_conv = ConvModule(in_channels, self.mid_channels, 1, conv_cfg=conv_cfg,
                                          norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.depthwise_conv = ConvModule(self.mid_channels, self.mid_channels, kernel_size,
                                         stride=stride, padding=kernel_size // 2,
                                         groups=self.mid_channels, conv_cfg=conv_cfg,
                                         norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.linear_conv = ConvModule(self.mid_channels, out_channels, 1, conv_cfg=conv_cfg,
                                      norm_cfg=norm_cfg, act_cfg=None)

    def forward(self, x: Tensor) -> Tensor:
        out = self.expand_conv(x) if self.with_expand_conv else x
        out = self.linear_conv(self.depthwise_conv(out))
        if self.with_res_shortcut:
            return x + drop_path(out, self.drop_path_rate, self.training)
        return out


@MODELS.register_module()
class Identity(BaseOP):
    """The "skip" candidate: the input itself, or a 1x1 conv-BN when the shape changes.

    Example:
        >>> x = torch.randn(1, 4, 3, 3)
        >>> torch.equal(Identity(in_channels=4, out_channels=4)(x), x)
        True
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 conv_cfg: Mapping[str, Any] | None = None,
                 norm_cfg: Mapping[str, Any] | None = {'type': 'BN'},
                 act_cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__(in_channels, out_channels, stride)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = ConvModule(in_channels, out_channels, 1, stride=stride,
                                         conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        return x if self.downsample is None else self.downsample(x)
