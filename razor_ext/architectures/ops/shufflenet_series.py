"""ShuffleNetV2 candidate blocks of the SPOS search space: ``ShuffleBlock`` (kernel 3/5/7) and
``ShuffleXception`` (three depthwise-separable 3x3 convs), MMRazor's names and child modules."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.architectures.ops.base import BaseOP
from razor_ext.architectures.ops.conv_module import ConvModule, DepthwiseSeparableConvModule
from razor_ext.registry import MODELS

_BN = {'type': 'BN'}
_RELU = {'type': 'ReLU'}


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet): ``(N, C, H, W)`` -> same shape.

    Example:
        >>> channel_shuffle(torch.arange(4.).view(1, 4, 1, 1), 2).flatten().tolist()
        [0.0, 2.0, 1.0, 3.0]
    """
    n, c, h, w = x.shape
    if not torch.jit.is_tracing() and c % groups:  # traced shapes are tensors
        raise ValueError(f'channel_shuffle: {c} channels do not split into {groups} groups')
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class _ShuffleUnit(BaseOP):
    """Two-branch ShuffleNetV2 unit: stride 1 splits the input in halves and transforms one;
    stride 2 transforms the whole input in both branches (``branch1`` downsamples)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 norm_cfg: Mapping[str, Any] | None, act_cfg: Mapping[str, Any] | None,
                 conv_cfg: Mapping[str, Any] | None, branch1_kernel: int) -> None:
        super().__init__(in_channels, out_channels, stride)
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        if out_channels % 2:
            raise ValueError(f'{type(self).__name__}: out_channels must be even, got {out_channels}')
        self.branch_features = out_channels // 2
        if stride == 1 and in_channels != out_channels:
            raise ValueError(f'{type(self).__name__}: with stride 1, in_channels ({in_channels}) '
                             f'must equal out_channels ({out_channels})')
        if stride > 1:
            k = branch1_kernel
            self.branch1 = nn.Sequential(
                ConvModule(in_channels, in_channels, k, stride=stride, padding=k // 2,
                           groups=in_channels, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None),
                ConvModule(in_channels, self.branch_features, 1, conv_cfg=conv_cfg,
                           norm_cfg=norm_cfg, act_cfg=act_cfg))

    @property
    def branch2_in(self) -> int:
        return self.in_channels if self.stride > 1 else self.branch_features

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        else:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        return channel_shuffle(out, 2)


@MODELS.register_module()
class ShuffleBlock(_ShuffleUnit):
    """ShuffleNetV2 unit whose branch is 1x1 -> depthwise kxk -> 1x1.

    Args:
        kernel_size: 3, 5 or 7 (depthwise kernel).
        in_channels, out_channels, stride: given by the backbone (``module_kwargs``).
        conv_cfg, norm_cfg, act_cfg: mmcv layer configs.
        with_cp: accepted for config compatibility (gradient checkpointing is not used).

    Shapes: ``(N, in_channels, H, W)`` -> ``(N, out_channels, H / stride, W / stride)``.

    Example:
        >>> ShuffleBlock(5, in_channels=8, out_channels=8)(torch.randn(1, 8, 6, 6)).shape
        torch.Size([1, 8, 6, 6])
    """

    def __init__(self, kernel_size: int, in_channels: int, out_channels: int, stride: int = 1,
                 conv_cfg: Mapping[str, Any] | None = None, norm_cfg: Mapping[str, Any] | None = _BN,
                 act_cfg: Mapping[str, Any] | None = _RELU, with_cp: bool = False) -> None:
        if kernel_size not in (3, 5, 7):
            raise ValueError(f'ShuffleBlock: kernel_size must be 3, 5 or 7, got {kernel_size!r}')
        super().__init__(in_channels, out_channels, stride, norm_cfg, act_cfg, conv_cfg,
                         kernel_size)
        self.kernel_size, self.with_cp = kernel_size, with_cp
        f = self.branch_features
        self.branch2 = nn.Sequential(
            ConvModule(self.branch2_in, f, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg),
            ConvModule(f, f, kernel_size, stride=stride, padding=kernel_size // 2, groups=f,
                       conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None),
            ConvModule(f, f, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg))


@MODELS.register_module()
class ShuffleXception(_ShuffleUnit):
    """ShuffleNetV2 unit whose branch is three depthwise-separable 3x3 convs (Xception-like).

    Args: as :class:`ShuffleBlock`, without ``kernel_size``.

    Example:
        >>> ShuffleXception(in_channels=4, out_channels=8, stride=2)(torch.randn(1, 4, 6, 6)).shape
        torch.Size([1, 8, 3, 3])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 conv_cfg: Mapping[str, Any] | None = None, norm_cfg: Mapping[str, Any] | None = _BN,
                 act_cfg: Mapping[str, Any] | None = _RELU, with_cp: bool = False) -> None:
        super().__init__(in_channels, out_channels, stride, norm_cfg, act_cfg, conv_cfg, 3)
        self.with_cp = with_cp
        f = self.mid_channels = self.branch_features

        def dwsep(cin: int, cout: int, s: int) -> DepthwiseSeparableConvModule:
            return DepthwiseSeparableConvModule(cin, cout, 3, stride=s, padding=1,
                                                conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                                dw_act_cfg=None, act_cfg=act_cfg)

        self.branch2 = nn.Sequential(dwsep(self.branch2_in, f, stride), dwsep(f, f, 1),
                                     dwsep(f, f, 1))
