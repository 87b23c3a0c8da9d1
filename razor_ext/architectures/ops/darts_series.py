"""The DARTS primitives (MMRazor's class names and arguments): separable and dilated convs,
max/avg pool + BN, skip connection (a factorized reduce when strided) and zero.

Every op takes ``in_channels, out_channels, stride`` (:class:`BaseOP`'s arguments; a
``DiffMutableOP`` passes them through ``module_kwargs``) and maps ``[N, C_in, H, W]`` to
``[N, C_out, H / stride, W / stride]``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from razor_ext.architectures.ops.base import BaseOP
from razor_ext.architectures.ops.layer_builders import build_norm_layer
from razor_ext.registry import MODELS

__all__ = ['DartsDilConv', 'DartsPoolBN', 'DartsSepConv', 'DartsSkipConnect', 'DartsZero',
           'DropPath']

_BN = {'type': 'BN'}


class DropPath(nn.Module):
    """Drop the whole sample's path with probability ``drop_prob`` in training (stochastic
    depth), scaling the kept ones by ``1 / (1 - drop_prob)``; identity in eval mode."""

    def __init__(self, drop_prob: float = 0.1) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f'drop_prob must be in [0, 1), got {drop_prob}')
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


def _norm(cfg: Mapping[str, Any], channels: int) -> nn.Module:
    return build_norm_layer(cfg, channels)[1]


@MODELS.register_module()
class DartsPoolBN(BaseOP):
    """3x3 max or average pool (padding 1, the op's stride) followed by BN.

    Example:
        >>> op = DartsPoolBN('max', in_channels=4, out_channels=4, stride=2)
        >>> op(torch.randn(2, 4, 8, 8)).shape
        torch.Size([2, 4, 4, 4])
    """

    def __init__(self, pool_type: str, kernel_size: int = 3, norm_cfg: Mapping[str, Any] = _BN,
                 use_drop_path: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if pool_type == 'max':
            self.pool: nn.Module = nn.MaxPool2d(kernel_size, self.stride, 1)
        elif pool_type == 'avg':
            self.pool = nn.AvgPool2d(kernel_size, self.stride, 1, count_include_pad=False)
        else:
            raise ValueError(f"pool_type must be 'max' or 'avg', got {pool_type!r}")
        self.kernel_size = kernel_size
        self.bn = _norm(norm_cfg, self.out_channels)
        self.drop_path = DropPath() if use_drop_path else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn(self.pool(x))
        return out if self.drop_path is None else self.drop_path(out)


@MODELS.register_module()
class DartsDilConv(BaseOP):
    """ReLU, depthwise dilated (2) conv, pointwise conv, BN.

    Example:
        >>> DartsDilConv(3, in_channels=4, out_channels=4)(torch.randn(1, 4, 6, 6)).shape
        torch.Size([1, 4, 6, 6])
    """

    def __init__(self, kernel_size: int, use_drop_path: bool = False,
                 norm_cfg: Mapping[str, Any] = _BN, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kernel_size not in (3, 5):
            raise ValueError(f'DartsDilConv: kernel_size must be 3 or 5, got {kernel_size!r}')
        self.kernel_size, self.dilation = kernel_size, 2
        cin, cout = self.in_channels, self.out_channels
        self.conv1 = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(cin, cin, kernel_size, self.stride, (kernel_size // 2) * 2, dilation=2,
                      groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False),
            _norm(norm_cfg, cout))
        self.drop_path = DropPath() if use_drop_path else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        return out if self.drop_path is None else self.drop_path(out)


@MODELS.register_module()
class DartsSepConv(BaseOP):
    """Two stacked (ReLU, depthwise conv, pointwise conv, BN) blocks; the first is strided.

    Example:
        >>> DartsSepConv(5, in_channels=4, out_channels=4, stride=2)(torch.randn(1, 4, 6, 6)).shape
        torch.Size([1, 4, 3, 3])
    """

    def __init__(self, kernel_size: int, use_drop_path: bool = False,
                 norm_cfg: Mapping[str, Any] = _BN, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kernel_size not in (3, 5):
            raise ValueError(f'DartsSepConv: kernel_size must be 3 or 5, got {kernel_size!r}')
        self.kernel_size = kernel_size
        cin, cout, pad = self.in_channels, self.out_channels, kernel_size // 2
        self.conv1 = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(cin, cin, kernel_size, self.stride, pad, groups=cin, bias=False),
            nn.Conv2d(cin, cin, 1, bias=False),
            _norm(norm_cfg, cin))
        self.conv2 = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(cin, cin, kernel_size, 1, pad, groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False),
            _norm(norm_cfg, cout))
        self.drop_path = DropPath() if use_drop_path else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return out if self.drop_path is None else self.drop_path(out)


@MODELS.register_module()
class DartsSkipConnect(BaseOP):
    """Identity at stride 1; at stride 2 a factorized reduce (ReLU, two offset 1x1 stride-2
    convs concatenated, BN).

    Example:
        >>> DartsSkipConnect(in_channels=4, out_channels=4, stride=2)(torch.randn(1, 4, 6, 6)).shape
        torch.Size([1, 4, 3, 3])
    """

    def __init__(self, use_drop_path: bool = False, norm_cfg: Mapping[str, Any] = _BN,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.stride > 1:
            if self.out_channels % 2:
                raise ValueError(f'DartsSkipConnect: a strided skip needs even out_channels, '
                                 f'got {self.out_channels}')
            self.relu = nn.ReLU()
            half = self.out_channels // 2
            self.conv1 = nn.Conv2d(self.in_channels, half, 1, stride=2, bias=False)
            self.conv2 = nn.Conv2d(self.in_channels, half, 1, stride=2, bias=False)
            self.bn = _norm(norm_cfg, self.out_channels)
        self.drop_path = DropPath() if use_drop_path else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x
        x = self.relu(x)
        out = self.bn(torch.cat([self.conv1(x), self.conv2(x[:, :, 1:, 1:])], 1))
        return out if self.drop_path is None else self.drop_path(out)


@MODELS.register_module()
class DartsZero(BaseOP):
    """No connection: zeros of the output shape.

    Example:
        >>> DartsZero(in_channels=4, out_channels=4, stride=2)(torch.ones(1, 4, 6, 6)).abs().sum()
        tensor(0.)
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, ::self.stride, ::self.stride].mul(0.0)
