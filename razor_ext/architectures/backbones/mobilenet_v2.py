"""mmcls's ``MobileNetV2`` backbone (module paths ``conv1.conv``, ``layer1.0.conv.0.conv``, ...,
``conv2``), the AutoSlim supernet; and ``make_divisible``, the channel rounding both MobileNet
backbones use."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from razor_ext.architectures.backbones.stages import apply_train_rules, check_indices, forward_stages
from razor_ext.architectures.ops.conv_module import ConvModule
from razor_ext.registry import MODELS


def make_divisible(value: float, divisor: int, min_value: int | None = None,
                   min_ratio: float = 0.9) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` (at least ``min_value``, default
    ``divisor``), going one multiple up when rounding would lose more than ``1 - min_ratio``.

    Example:
        >>> make_divisible(24 * 1.5, 8), make_divisible(32 * 1.5, 8)
        (40, 48)
    """
    min_value = divisor if min_value is None else min_value
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < min_ratio * value:
        new_value += divisor
    return new_value


class InvertedResidual(nn.Module):
    """mmcls's MobileNetV2 block: ``conv`` = Sequential(1x1 expand (if ``expand_ratio != 1``),
    3x3 depthwise, 1x1 linear), with a residual when stride is 1 and channels are kept."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: float,
                 conv_cfg: Mapping[str, Any] | None, norm_cfg: Mapping[str, Any] | None,
                 act_cfg: Mapping[str, Any] | None) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride}')
        self.stride = stride
        self.use_res_connect = stride == 1 and in_channels == out_channels
        hidden = int(round(in_channels * expand_ratio))
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvModule(in_channels, hidden, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                     act_cfg=act_cfg))
        layers += [ConvModule(hidden, hidden, 3, stride=stride, padding=1, groups=hidden,
                              conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg),
                   ConvModule(hidden, out_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                              act_cfg=None)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


@MODELS.register_module(name=['MobileNetV2', 'mmcls.MobileNetV2'])
class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al. 2018) as mmcls builds it.

    Args:
        widen_factor: channel multiplier (channels rounded by :func:`make_divisible` to 8; the
            last conv has ``int(1280 * widen_factor)`` channels when ``widen_factor > 1``).
        out_indices: layers whose outputs are returned (0-6: ``layer1``-``layer7``, 7: ``conv2``).
        frozen_stages: stem and ``layer1..layer{frozen_stages}`` get no gradients (-1: none).
        conv_cfg, norm_cfg, act_cfg: mmcv layer configs (ReLU6 by default).
        norm_eval, with_cp, init_cfg: as in mmcls (``with_cp`` / ``init_cfg`` only accepted).

    Shapes: ``(N, 3, H, W)`` -> tuple of feature maps, one per ``out_indices``.

    Example:
        >>> import torch
        >>> net = MobileNetV2(widen_factor=1.5).eval()
        >>> net(torch.randn(1, 3, 32, 32))[0].shape, net.layer2[0].conv[0].conv.out_channels
        (torch.Size([1, 1920, 1, 1]), 144)
    """

    # expand ratio, channels, blocks, stride of the first block
    arch_settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
                     [6, 160, 3, 2], [6, 320, 1, 1]]

    def __init__(self, widen_factor: float = 1.0, out_indices: Sequence[int] = (7,),
                 frozen_stages: int = -1, conv_cfg: Mapping[str, Any] | None = None,
                 norm_cfg: Mapping[str, Any] = {'type': 'BN'},
                 act_cfg: Mapping[str, Any] = {'type': 'ReLU6'}, norm_eval: bool = False,
                 with_cp: bool = False, init_cfg: Any = None) -> None:
        super().__init__()
        check_indices(out_indices, frozen_stages, 8)
        self.widen_factor, self.out_indices = widen_factor, tuple(out_indices)
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        self.with_cp, self.init_cfg = with_cp, init_cfg
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        in_channels = make_divisible(32 * widen_factor, 8)
        self.conv1 = ConvModule(3, in_channels, 3, stride=2, padding=1, **cfgs)
        self.layers: list[str] = []
        for i, (expand, channels, blocks, stride) in enumerate(self.arch_settings):
            out_channels = make_divisible(channels * widen_factor, 8)
            layer = []
            for j in range(blocks):
                layer.append(InvertedResidual(in_channels, out_channels, stride if j == 0 else 1,
                                              expand, **cfgs))
                in_channels = out_channels
            self.add_module(f'layer{i + 1}', nn.Sequential(*layer))
            self.layers.append(f'layer{i + 1}')
        self.out_channel = int(1280 * widen_factor) if widen_factor > 1.0 else 1280
        self.conv2 = ConvModule(in_channels, self.out_channel, 1, **cfgs)
        self.layers.append('conv2')
        self.train(self.training)

    def init_weights(self) -> None:
        """Kaiming-normal convs, BN weight 1 / bias 0 (mmcls's defaults)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return forward_stages(self.conv1, [getattr(self, name) for name in self.layers], x, self.out_indices)

    def train(self, mode: bool = True) -> MobileNetV2:
        super().train(mode)
        frozen = ([self.conv1] + [getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1)]
                  if self.frozen_stages >= 0 else [])
        apply_train_rules(self, frozen, self.norm_eval, mode)
        return self
