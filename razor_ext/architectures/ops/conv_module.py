"""``ConvModule`` / ``DepthwiseSeparableConvModule``: conv -> norm -> activation blocks with the
child names mmcv gives them (``conv``, ``bn``, ``activate``; ``depthwise_conv``,
``pointwise_conv``), so that MMRazor / mmcls checkpoints and subnet files line up."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

# mmcv's layer type names for the few layers OpenMMLab classification configs use.
_NORMS: dict[str, type[nn.Module]] = {'BN': nn.BatchNorm2d, 'BN2d': nn.BatchNorm2d,
                                      'SyncBN': nn.BatchNorm2d, 'GN': nn.GroupNorm}
_ACTS: dict[str, type[nn.Module]] = {'ReLU': nn.ReLU, 'ReLU6': nn.ReLU6, 'HSwish': nn.Hardswish,
                                     'HSigmoid': nn.Hardsigmoid, 'Sigmoid': nn.Sigmoid,
                                     'Swish': nn.SiLU, 'SiLU': nn.SiLU, 'GELU': nn.GELU,
                                     'LeakyReLU': nn.LeakyReLU, 'Tanh': nn.Tanh}
_INPLACE_ACTS = ('ReLU', 'ReLU6', 'HSwish', 'HSigmoid', 'Swish', 'SiLU', 'LeakyReLU')

_DEFAULT = 'default'


def _cfg_type(cfg: Mapping[str, Any], what: str, table: Mapping[str, Any]) -> tuple[str, dict]:
    if not isinstance(cfg, Mapping) or 'type' not in cfg:
        raise TypeError(f"{what} must be None or a dict with a 'type' key, got {cfg!r}")
    args = dict(cfg)
    kind = args.pop('type')
    if kind not in table:
        raise ValueError(f'{what} type {kind!r} is not supported; choose one of {sorted(table)}')
    return kind, args


def build_norm(cfg: Mapping[str, Any], num_features: int) -> nn.Module:
    """A norm layer from an mmcv ``norm_cfg`` (``dict(type='BN', momentum=..., eps=...)``)."""
    kind, args = _cfg_type(cfg, 'norm_cfg', _NORMS)
    requires_grad = args.pop('requires_grad', True)
    if kind == 'GN':
        layer = nn.GroupNorm(args.pop('num_groups'), num_features, **args)
    else:
        layer = _NORMS[kind](num_features, **args)
    for p in layer.parameters():
        p.requires_grad_(requires_grad)
    return layer


def build_activation(cfg: Mapping[str, Any], inplace: bool = True) -> nn.Module:
    """An activation from an mmcv ``act_cfg`` (``dict(type='ReLU6')``); ReLU-like ones in place."""
    kind, args = _cfg_type(cfg, 'act_cfg', _ACTS)
    if kind in _INPLACE_ACTS:
        args.setdefault('inplace', inplace)
    return _ACTS[kind](**args)


class ConvModule(nn.Module):
    """Conv2d, then an optional norm (``bn``) and activation (``activate``), as mmcv's.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups: of the conv.
        bias: ``'auto'`` means a bias only when there is no norm layer.
        conv_cfg: None or ``dict(type='Conv2d')`` (the only conv built here).
        norm_cfg: None or e.g. ``dict(type='BN')``.
        act_cfg: None or e.g. ``dict(type='ReLU')`` (the default, as in mmcv).
        inplace: in-place activation.

    Shapes: ``(N, in_channels, H, W)`` -> ``(N, out_channels, H', W')``.

    Example:
        >>> import torch
        >>> m = ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type='BN'))
        >>> [n for n, _ in m.named_children()], m(torch.randn(1, 3, 4, 4)).shape
        (['conv', 'bn', 'activate'], torch.Size([1, 8, 4, 4]))
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1,
                 bias: bool | str = 'auto', conv_cfg: Mapping[str, Any] | None = None,
                 norm_cfg: Mapping[str, Any] | None = None,
                 act_cfg: Mapping[str, Any] | None = {'type': 'ReLU'}, inplace: bool = True) -> None:
        super().__init__()
        if conv_cfg is not None and dict(conv_cfg).get('type', 'Conv2d') not in ('Conv2d', 'Conv'):
            raise ValueError(f"conv_cfg must be None or dict(type='Conv2d'), got {conv_cfg!r}")
        if bias == 'auto':
            bias = norm_cfg is None
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be a bool or 'auto', got {bias!r}")
        self.with_norm = norm_cfg is not None
        self.with_activation = act_cfg is not None
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation,
                              groups, bias=bias)
        if norm_cfg is not None:
            # mmcv names the BN child after the norm type's abbreviation: 'bn' for BN/SyncBN.
            name = 'gn' if dict(norm_cfg)['type'] == 'GN' else 'bn'
            self.norm_name = name
            self.add_module(name, build_norm(norm_cfg, out_channels))
        if act_cfg is not None:
            self.activate = build_activation(act_cfg, inplace)

    @property
    def in_channels(self) -> int:
        return self.conv.in_channels

    @property
    def out_channels(self) -> int:
        return self.conv.out_channels

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        if self.with_norm:
            x = getattr(self, self.norm_name)(x)
        if self.with_activation:
            x = self.activate(x)
        return x


class DepthwiseSeparableConvModule(nn.Module):
    """Depthwise ``ConvModule`` (``depthwise_conv``) then pointwise 1x1 (``pointwise_conv``),
    as mmcv's. ``dw_*_cfg`` / ``pw_*_cfg`` of ``'default'`` take ``norm_cfg`` / ``act_cfg``.

    Example:
        >>> import torch
        >>> m = DepthwiseSeparableConvModule(4, 8, 3, padding=1, norm_cfg=dict(type='BN'))
        >>> m(torch.randn(1, 4, 5, 5)).shape
        torch.Size([1, 8, 5, 5])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, norm_cfg: Mapping[str, Any] | None = None,
                 act_cfg: Mapping[str, Any] | None = {'type': 'ReLU'},
                 dw_norm_cfg: Any = _DEFAULT, dw_act_cfg: Any = _DEFAULT,
                 pw_norm_cfg: Any = _DEFAULT, pw_act_cfg: Any = _DEFAULT,
                 conv_cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__()

        def pick(value: Any, default: Any) -> Any:
            return default if isinstance(value, str) and value == _DEFAULT else value

        self.depthwise_conv = ConvModule(in_channels, in_channels, kernel_size, stride, padding,
                                         dilation, groups=in_channels, conv_cfg=conv_cfg,
                                         norm_cfg=pick(dw_norm_cfg, norm_cfg),
                                         act_cfg=pick(dw_act_cfg, act_cfg))
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1, conv_cfg=conv_cfg,
                                         norm_cfg=pick(pw_norm_cfg, norm_cfg),
                                         act_cfg=pick(pw_act_cfg, act_cfg))

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))
