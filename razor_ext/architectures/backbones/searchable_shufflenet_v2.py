"""``SearchableShuffleNetV2``: the SPOS ShuffleNetV2 supernet (MMRazor's class, arguments and
module paths: ``conv1``, ``layers.<stage>.<block>`` = ``OneShotMutableOP``, last 1x1 conv as
``layers.4``)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from razor_ext.architectures.backbones.stages import (apply_train_rules, build_stage, forward_stages,
                                                      check_indices)
from razor_ext.architectures.ops.conv_module import ConvModule
from razor_ext.registry import MODELS


@MODELS.register_module()
class SearchableShuffleNetV2(nn.Module):
    """ShuffleNetV2 whose every block is a searchable op (SPOS, Guo et al. 2020).

    Args:
        arch_setting: ``[[channels, num_blocks, mutable_cfg], ...]`` per stage; each stage's first
            block has stride 2.
        stem_multiplier: the stem conv has ``16 * stem_multiplier`` channels.
        widen_factor: stage channels are ``round(channels * widen_factor)``.
        out_indices: which layers' outputs are returned (0-3: stages, 4: the last conv).
        frozen_stages: stem and the first ``frozen_stages`` layers get no gradients (-1: none).
        with_last_layer: append the 1x1 conv to 1024 channels.
        conv_cfg, norm_cfg, act_cfg: mmcv layer configs.
        norm_eval: keep BN layers in eval mode while training.
        with_cp, init_cfg: accepted for config compatibility.

    Shapes: ``(N, 3, H, W)`` -> tuple of ``(N, C_i, H_i, W_i)``, one per ``out_indices``.

    Example:
        >>> import torch
        >>> cand = dict(type='OneShotMutableOP', candidates=dict(
        ...     shuffle_3x3=dict(type='ShuffleBlock', kernel_size=3),
        ...     shuffle_xception=dict(type='ShuffleXception')))
        >>> net = SearchableShuffleNetV2([[16, 1, cand], [32, 1, cand]], out_indices=(2,))
        >>> net(torch.randn(1, 3, 32, 32))[0].shape
        torch.Size([1, 1024, 4, 4])
    """

    def __init__(self, arch_setting: Sequence[Sequence[Any]], stem_multiplier: int = 1,
                 widen_factor: float = 1.0, out_indices: Sequence[int] = (4,),
                 frozen_stages: int = -1, with_last_layer: bool = True,
                 conv_cfg: Mapping[str, Any] | None = None,
                 norm_cfg: Mapping[str, Any] = {'type': 'BN'},
                 act_cfg: Mapping[str, Any] = {'type': 'ReLU'}, norm_eval: bool = False,
                 with_cp: bool = False, init_cfg: Any = None) -> None:
        super().__init__()
        num_layers = len(arch_setting) + int(with_last_layer)
        check_indices(out_indices, frozen_stages, num_layers)
        self.arch_setting, self.widen_factor = arch_setting, widen_factor
        self.out_indices, self.frozen_stages = tuple(out_indices), frozen_stages
        self.norm_eval, self.with_cp, self.init_cfg = norm_eval, with_cp, init_cfg
        in_channels = 16 * stem_multiplier
        self.conv1 = ConvModule(3, in_channels, 3, stride=2, padding=1, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.layers = nn.ModuleList()
        for setting in arch_setting:
            if len(setting) != 3:
                raise ValueError(f'each arch_setting entry is [channels, num_blocks, mutable_cfg], '
                                 f'got {setting!r}')
            channels, num_blocks, mutable_cfg = setting
            out_channels = round(channels * widen_factor)
            self.layers.append(build_stage(mutable_cfg, in_channels, out_channels, num_blocks, 2))
            in_channels = out_channels
        if with_last_layer:
            self.layers.append(ConvModule(in_channels, 1024, 1, conv_cfg=conv_cfg,
                                          norm_cfg=norm_cfg, act_cfg=act_cfg))
        self.train(self.training)

    def init_weights(self) -> None:
        """MMRazor's init: N(0, 0.01) for the stem conv, N(0, 1/fan_in_per_group) for the other
        convs, BN weight 1 and bias 1e-4."""
        for name, m in self.named_modules():
            if isinstance(m, nn.Conv2d):
                std = 0.01 if 'conv1' in name else 1.0 / m.weight.shape[1]
                nn.init.normal_(m.weight, 0.0, std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                nn.init.ones_(m.weight)
                nn.init.constant_(m.bias, 1e-4)
                nn.init.zeros_(m.running_mean)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return forward_stages(self.conv1, self.layers, x, self.out_indices)

    def train(self, mode: bool = True) -> SearchableShuffleNetV2:
        super().train(mode)
        frozen = [self.conv1, *self.layers[:self.frozen_stages]] if self.frozen_stages >= 0 else []
        apply_train_rules(self, frozen, self.norm_eval, mode)
        return self
