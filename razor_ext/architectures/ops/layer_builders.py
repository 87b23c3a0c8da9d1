"""Build norm and activation layers from mmcv-style config dicts (``dict(type='BN')``)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

# type -> (abbreviation used as the attribute name, as mmcv does, so checkpoint keys line up;
#          factory taking (num_features, **kwargs))
_NORMS: dict[str, tuple[str, Any]] = {
    'BN': ('bn', nn.BatchNorm2d), 'BN2d': ('bn', nn.BatchNorm2d), 'BN1d': ('bn', nn.BatchNorm1d),
    'BN3d': ('bn', nn.BatchNorm3d), 'SyncBN': ('bn', nn.BatchNorm2d),
    'GN': ('gn', lambda c, num_groups, **kw: nn.GroupNorm(num_groups, c, **kw)),
    'LN': ('ln', nn.LayerNorm), 'IN': ('in', nn.InstanceNorm2d),
}
_ACTS = {'ReLU': nn.ReLU, 'LeakyReLU': nn.LeakyReLU, 'ReLU6': nn.ReLU6, 'GELU': nn.GELU,
         'Sigmoid': nn.Sigmoid, 'Tanh': nn.Tanh, 'SiLU': nn.SiLU, 'Swish': nn.SiLU,
         'HSwish': nn.Hardswish, 'HSigmoid': nn.Hardsigmoid, 'PReLU': nn.PReLU}
_INPLACE = {'ReLU', 'LeakyReLU', 'ReLU6', 'SiLU', 'Swish', 'HSwish', 'HSigmoid'}


def build_norm_layer(cfg: Mapping[str, Any], num_features: int) -> tuple[str, nn.Module]:
    """``(name, layer)`` for ``cfg`` such as ``dict(type='BN')`` or ``dict(type='GN', num_groups=4)``.

    ``requires_grad`` (mmcv's key) freezes the affine parameters when False.

    Example:
        >>> name, layer = build_norm_layer(dict(type='BN'), 8)
        >>> name, type(layer).__name__, layer.num_features
        ('bn', 'BatchNorm2d', 8)
    """
    if not isinstance(cfg, Mapping) or cfg.get('type') not in _NORMS:
        raise ValueError(f'norm_cfg must be a dict with type in {sorted(_NORMS)}, got {cfg!r}')
    kwargs = dict(cfg)
    name, factory = _NORMS[kwargs.pop('type')]
    requires_grad = kwargs.pop('requires_grad', True)
    layer = factory(num_features, **kwargs)
    for p in layer.parameters():
        p.requires_grad_(requires_grad)
    return name, layer


def build_activation_layer(cfg: Mapping[str, Any], inplace: bool = False) -> nn.Module:
    """An activation from ``dict(type='ReLU')`` and the like.

    Example:
        >>> build_activation_layer(dict(type='LeakyReLU', negative_slope=0.1))
        LeakyReLU(negative_slope=0.1)
    """
    if not isinstance(cfg, Mapping) or cfg.get('type') not in _ACTS:
        raise ValueError(f'act_cfg must be None or a dict with type in {sorted(_ACTS)}, got {cfg!r}')
    kwargs = dict(cfg)
    kind = kwargs.pop('type')
    if kind in _INPLACE:
        kwargs.setdefault('inplace', inplace)
    return _ACTS[kind](**kwargs)
