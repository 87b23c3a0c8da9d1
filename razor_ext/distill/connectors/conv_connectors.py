"""Convolutional and linear connectors: map a student feature to the teacher's shape."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from razor_ext.architectures.ops.layer_builders import build_activation_layer, build_norm_layer
from razor_ext.registry import MODELS


@MODELS.register_module()
class ConvModuleConnector(nn.Module):
    """Conv + optional norm + optional activation (mmcv ``ConvModule`` order), by default a
    1x1 conv followed by ReLU; with ``norm_cfg=dict(type='BN')`` the FitNets-style
    "1x1 conv + BN + act" adapter.

    Args: as MMRazor's ``ConvModuleConnector``: ``in_channel, out_channel, kernel_size=1,
    stride=1, padding=0, dilation=1, groups=1, bias='auto'`` (no bias when a norm follows),
    ``conv_cfg=None`` (plain Conv2d only), ``norm_cfg=None``, ``act_cfg=dict(type='ReLU')``,
    ``inplace=True``, ``with_spectral_norm=False``, ``padding_mode='zeros'``,
    ``order=('conv', 'norm', 'act')``, ``init_cfg=None`` (unused).

    Shapes: ``(N, in_channel, H, W) -> (N, out_channel, H', W')``.

    Example:
        >>> import torch
        >>> c = ConvModuleConnector(4, 8, norm_cfg=dict(type='BN'))
        >>> c(torch.randn(2, 4, 5, 5)).shape
        torch.Size([2, 8, 5, 5])
    """

    def __init__(self, in_channel: int, out_channel: int, kernel_size: int | tuple[int, int] = 1,
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: str | bool = 'auto',
                 conv_cfg: Mapping[str, Any] | None = None,
                 norm_cfg: Mapping[str, Any] | None = None,
                 act_cfg: Mapping[str, Any] | None = dict(type='ReLU'),  # noqa: B006 (MMRazor default)
                 inplace: bool = True, with_spectral_norm: bool = False,
                 padding_mode: str = 'zeros', order: tuple[str, ...] = ('conv', 'norm', 'act'),
                 init_cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if conv_cfg is not None and conv_cfg.get('type', 'Conv2d') not in ('Conv2d', 'Conv'):
            raise ValueError(f'conv_cfg supports only Conv2d, got {conv_cfg!r}')
        if sorted(order) != ['act', 'conv', 'norm']:
            raise ValueError(f"order must be a permutation of ('conv', 'norm', 'act'), got {order!r}")
        if bias == 'auto':
            bias = norm_cfg is None
        self.order = tuple(order)
        self.conv_module = nn.Module()
        conv = nn.Conv2d(in_channel, out_channel, kernel_size, stride, padding, dilation, groups,
                         bool(bias), padding_mode)
        if with_spectral_norm:
            conv = nn.utils.spectral_norm(conv)
        self.conv_module.conv = conv
        self._norm_name = None
        if norm_cfg is not None:
            # A norm placed before the conv normalises the input channels.
            channels = out_channel if order.index('norm') > order.index('conv') else in_channel
            self._norm_name, norm = build_norm_layer(norm_cfg, channels)
            self.conv_module.add_module(self._norm_name, norm)
        self.conv_module.activate = (build_activation_layer(act_cfg, inplace)
                                     if act_cfg is not None else None)

    def forward(self, feature: Tensor) -> Tensor:
        for layer in self.order:
            if layer == 'conv':
                feature = self.conv_module.conv(feature)
            elif layer == 'norm' and self._norm_name is not None:
                feature = getattr(self.conv_module, self._norm_name)(feature)
            elif layer == 'act' and self.conv_module.activate is not None:
                feature = self.conv_module.activate(feature)
        return feature


@MODELS.register_module()
class SingleConvConnector(nn.Module):
    """One 3x3 convolution (stride 1, padding 1): ``(N, in_channel, H, W) -> (N, out_channel, H, W)``.

    Example:
        >>> import torch
        >>> SingleConvConnector(3, 5)(torch.randn(1, 3, 4, 4)).shape
        torch.Size([1, 5, 4, 4])
    """

    def __init__(self, in_channel: int, out_channel: int,
                 init_cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channel, out_channel, kernel_size=3, stride=1, padding=1)

    def forward(self, feature: Tensor) -> Tensor:
        return self.conv(feature)


@MODELS.register_module()
class LinearConnector(nn.Module):
    """A linear layer on the last dim: ``(..., in_channel) -> (..., out_channel)``; 4-D
    features are flattened per sample first.

    Example:
        >>> import torch
        >>> LinearConnector(6, 2)(torch.randn(3, 6)).shape
        torch.Size([3, 2])
    """

    def __init__(self, in_channel: int, out_channel: int,
                 init_cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.linear = nn.Linear(in_channel, out_channel)

    def forward(self, feature: Tensor) -> Tensor:
        if feature.ndim > 2:
            feature = feature.reshape(feature.size(0), -1)
        return self.linear(feature)


@MODELS.register_module()
class NormConnector(nn.Module):
    """A normalisation layer from ``norm_cfg`` (e.g. ``dict(type='BN')``) on the feature.

    Example:
        >>> import torch
        >>> NormConnector(3, dict(type='BN'))(torch.randn(2, 3, 4, 4)).shape
        torch.Size([2, 3, 4, 4])
    """

    def __init__(self, in_channels: int, norm_cfg: Mapping[str, Any],
                 init_cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        _, self.norm = build_norm_layer(norm_cfg, in_channels)

    def forward(self, feature: Tensor) -> Tensor:
        return self.norm(feature)
