"""MMRazor's ``WideResNet`` (Zagoruyko & Komodakis 2016) for 32x32 images: pre-activation
blocks (``bn1`` -> ReLU -> ``conv1`` -> ``bn2`` -> ReLU -> ``conv2``), a 1x1 conv shortcut on the
activated input, and a final ``bn1`` + ReLU; MMRazor's module names so its checkpoints load."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.architectures.backbones.stages import apply_train_rules
from razor_ext.architectures.ops.layer_builders import build_norm_layer
from razor_ext.registry import MODELS


class WideBasicBlock(nn.Module):
    """Pre-activation 3x3 -> 3x3 block. Shapes: ``(N, C_in, H, W)`` -> ``(N, C_out, H/s, W/s)``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 downsample: nn.Module | None = None, droprate: float = 0.0,
                 norm_cfg: Mapping[str, Any] = {'type': 'BN'}) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.droprate = in_channels, out_channels, droprate
        self.bn1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        activated = self.relu1(self.bn1(x))
        out = self.relu2(self.bn2(self.conv1(activated)))
        if self.droprate > 0:
            out = F.dropout(out, p=self.droprate, training=self.training)
        out = self.conv2(out)
        # The shortcut of a widening block starts from the activated input, as MMRazor's does.
        return out + (self.downsample(activated) if self.downsample is not None else x)


@MODELS.register_module(name=['WideResNet', 'mmrazor.WideResNet'])
class WideResNet(nn.Module):
    """WRN-``depth``-``widen_factor``: a 3x3 ``conv1`` stem, ``num_stages`` layers of
    ``(depth - 4) / 6`` blocks each (``base_channels * widen_factor * 2**i`` wide), ``bn1`` + ReLU.

    Args:
        depth: 10, 16, 22, 28 or 40.
        widen_factor: width multiplier (``expansion``).
        in_channels, stem_channels, base_channels, num_stages, strides: as in MMRazor.
        frozen_stages, norm_cfg, norm_eval: as in MMRazor; conv_cfg, dilations,
            zero_init_residual, init_cfg accepted for config compatibility.

    Shapes: ``(N, 3, 32, 32)`` -> ``((N, 64 * widen_factor, 8, 8),)``.

    Example:
        >>> import torch
        >>> net = WideResNet(depth=16, widen_factor=2)
        >>> net(torch.randn(1, 3, 32, 32))[0].shape, net.feat_dim
        (torch.Size([1, 128, 8, 8]), 128)
    """

    arch_setting = {10: (1, 1, 1), 16: (2, 2, 2), 22: (3, 3, 3), 28: (4, 4, 4), 40: (6, 6, 6)}

    def __init__(self, depth: int, widen_factor: int = 4, in_channels: int = 3,
                 stem_channels: int = 16, base_channels: int = 16, expansion: int | None = None,
                 num_stages: int = 3, strides: Sequence[int] = (1, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1), frozen_stages: int = -1,
                 conv_cfg: Any = None, norm_cfg: Mapping[str, Any] = {'type': 'BN', 'requires_grad': True},
                 norm_eval: bool = False, zero_init_residual: bool = False, init_cfg: Any = None) -> None:
        super().__init__()
        if depth not in self.arch_setting:
            raise KeyError(f'invalid depth {depth} for WideResNet; choose one of {sorted(self.arch_setting)}')
        self.depth, self.widen_factor, self.frozen_stages, self.norm_eval = depth, widen_factor, frozen_stages, norm_eval
        self.expansion = expansion or widen_factor
        self.conv1 = nn.Conv2d(in_channels, stem_channels, 3, 1, 1, bias=False)
        self.res_layers: list[str] = []
        channels, out_channels = stem_channels, base_channels * self.expansion
        for i, num_blocks in enumerate(self.arch_setting[depth][:num_stages]):
            downsample = None
            if strides[i] != 1 or channels != out_channels:
                downsample = nn.Conv2d(channels, out_channels, 1, strides[i], bias=False)
            blocks = [WideBasicBlock(channels, out_channels, strides[i], downsample, norm_cfg=norm_cfg)]
            blocks += [WideBasicBlock(out_channels, out_channels, norm_cfg=norm_cfg)
                       for _ in range(1, num_blocks)]
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.res_layers.append(f'layer{i + 1}')
            channels, out_channels = out_channels, out_channels * 2
        self.feat_dim = channels
        self.bn1 = build_norm_layer(norm_cfg, channels)[1]
        self.relu = nn.ReLU(inplace=True)
        self.train(self.training)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        x = self.conv1(x)
        for name in self.res_layers:
            x = getattr(self, name)(x)
        return (self.relu(self.bn1(x)),)

    def train(self, mode: bool = True) -> WideResNet:
        super().train(mode)
        frozen = ([self.conv1] + [getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1)]
                  if self.frozen_stages >= 0 else [])
        apply_train_rules(self, frozen, self.norm_eval, mode)
        return self
