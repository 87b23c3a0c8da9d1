"""``SearchableMobileNetV2``: the SPOS-MobileNet supernet (MMRazor's class, arguments and module
paths: ``conv1``, ``layer<i>.<block>`` = ``OneShotMutableOP`` of ``MBBlock``s, ``conv2``)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from razor_ext.architectures.backbones.mobilenet_v2 import make_divisible
from razor_ext.architectures.backbones.stages import (apply_train_rules, build_stage, forward_stages,
                                                      check_indices)
from razor_ext.architectures.ops.conv_module import ConvModule
from razor_ext.registry import MODELS


@MODELS.register_module()
class SearchableMobileNetV2(nn.Module):
    """MobileNetV2 whose blocks are searchable ops (SPOS-MobileNet).

    Args:
        arch_setting: ``[[channels, num_blocks, stride, mutable_cfg], ...]`` per layer.
        first_channels: stem channels (before ``widen_factor`` and rounding to 8).
        last_channels: channels of the last 1x1 conv (times ``widen_factor`` when > 1).
        widen_factor: channel multiplier; channels are rounded by :func:`make_divisible`.
        out_indices: layers whose outputs are returned (0-6 the layers, 7 ``conv2``).
        frozen_stages, conv_cfg, norm_cfg, act_cfg, norm_eval, with_cp, init_cfg: as in
            :class:`MobileNetV2` (ReLU6 by default).

    Shapes: ``(N, 3, H, W)`` -> tuple of feature maps, one per ``out_indices``.

    Example:
        >>> import torch
        >>> cand = dict(type='OneShotMutableOP', candidates=dict(
        ...     mb_k3e3=dict(type='MBBlock', kernel_size=3, expand_ratio=3),
        ...     identity=dict(type='Identity')))
        >>> net = SearchableMobileNetV2([[16, 2, 2, cand]], last_channels=64, out_indices=(1,))
        >>> net(torch.randn(1, 3, 16, 16))[0].shape
        torch.Size([1, 64, 4, 4])
    """

    def __init__(self, arch_setting: Sequence[Sequence[Any]], first_channels: int = 32,
                 last_channels: int = 1280, widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (7,), frozen_stages: int = -1,
                 conv_cfg: Mapping[str, Any] | None = None,
                 norm_cfg: Mapping[str, Any] = {'type': 'BN'},
                 act_cfg: Mapping[str, Any] = {'type': 'ReLU6'}, norm_eval: bool = False,
                 with_cp: bool = False, init_cfg: Any = None) -> None:
        super().__init__()
        check_indices(out_indices, frozen_stages, 8)
        self.arch_setting, self.widen_factor = arch_setting, widen_factor
        self.out_indices, self.frozen_stages = tuple(out_indices), frozen_stages
        self.norm_eval, self.with_cp, self.init_cfg = norm_eval, with_cp, init_cfg
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        in_channels = make_divisible(first_channels * widen_factor, 8)
        self.conv1 = ConvModule(3, in_channels, 3, stride=2, padding=1, **cfgs)
        self.layers: list[str] = []
        for i, setting in enumerate(arch_setting):
            if len(setting) != 4:
                raise ValueError(f'each arch_setting entry is [channels, num_blocks, stride, '
                                 f'mutable_cfg], got {setting!r}')
            channels, num_blocks, stride, mutable_cfg = setting
            out_channels = make_divisible(channels * widen_factor, 8)
            self.add_module(f'layer{i + 1}', build_stage(mutable_cfg, in_channels, out_channels,
                                                         num_blocks, stride))
            self.layers.append(f'layer{i + 1}')
            in_channels = out_channels
        self.out_channel = (int(last_channels * widen_factor) if widen_factor > 1.0
                            else last_channels)
        self.conv2 = ConvModule(in_channels, self.out_channel, 1, **cfgs)
        self.layers.append('conv2')
        self.train(self.training)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return forward_stages(self.conv1, [getattr(self, name) for name in self.layers], x, self.out_indices)

    def train(self, mode: bool = True) -> SearchableMobileNetV2:
        super().train(mode)
        frozen = ([self.conv1] + [getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1)]
                  if self.frozen_stages >= 0 else [])
        apply_train_rules(self, frozen, self.norm_eval, mode)
        return self
