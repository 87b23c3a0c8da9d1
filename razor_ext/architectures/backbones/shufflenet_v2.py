"""mmcls's ``ShuffleNetV2`` backbone (Ma et al. 2018), module paths ``conv1``, ``layers.0.0.branch1``,
..., ``layers.3`` (the final 1x1 conv), as mmcls names them."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from razor_ext.architectures.backbones.stages import apply_train_rules, check_indices, forward_stages
from razor_ext.architectures.ops.conv_module import ConvModule
from razor_ext.architectures.ops.shufflenet_series import ShuffleBlock
from razor_ext.registry import MODELS

_CHANNELS = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024), 1.5: (176, 352, 704, 1024),
             2.0: (244, 488, 976, 2048)}


@MODELS.register_module(name=['ShuffleNetV2', 'mmcls.ShuffleNetV2'])
class ShuffleNetV2(nn.Module):
    """ShuffleNetV2 with 4 / 8 / 4 units per stage after a 3x3 stride-2 stem and a max-pool.

    Args:
        widen_factor: 0.5, 1.0, 1.5 or 2.0 (stage widths as in the paper).
        out_indices: 0-2 the stages, 3 the final 1x1 conv (default ``(3,)``).
        frozen_stages: stem and ``layers[0..frozen_stages-1]`` get no gradients (-1: none).
        conv_cfg, norm_cfg, act_cfg: mmcv layer configs; norm_eval as in mmcls.
        with_cp, init_cfg: accepted for config compatibility.

    Shapes: ``(N, 3, H, W)`` -> tuple of feature maps (``(N, 1024, H/32, W/32)`` for index 3).

    Example:
        >>> import torch
        >>> net = ShuffleNetV2(widen_factor=1.0)
        >>> net(torch.randn(1, 3, 64, 64))[0].shape, sum(p.numel() for p in net.parameters())
        (torch.Size([1, 1024, 2, 2]), 1253604)
    """

    stage_blocks = (4, 8, 4)

    def __init__(self, widen_factor: float = 1.0, out_indices: Sequence[int] = (3,),
                 frozen_stages: int = -1, conv_cfg: Mapping[str, Any] | None = None,
                 norm_cfg: Mapping[str, Any] = {'type': 'BN'},
                 act_cfg: Mapping[str, Any] = {'type': 'ReLU'}, norm_eval: bool = False,
                 with_cp: bool = False, init_cfg: Any = None) -> None:
        super().__init__()
        if float(widen_factor) not in _CHANNELS:
            raise ValueError(f'widen_factor must be in {sorted(_CHANNELS)}, got {widen_factor}')
        check_indices(out_indices, frozen_stages, 4)
        channels = _CHANNELS[float(widen_factor)]
        self.out_indices, self.frozen_stages, self.norm_eval = tuple(out_indices), frozen_stages, norm_eval
        self.with_cp, self.init_cfg = with_cp, init_cfg
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        in_channels = 24
        self.conv1 = ConvModule(3, in_channels, 3, stride=2, padding=1, **cfgs)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layers = nn.ModuleList()
        for out_channels, num_blocks in zip(channels[:3], self.stage_blocks):
            self.layers.append(nn.Sequential(*[
                ShuffleBlock(3, in_channels if i == 0 else out_channels, out_channels,
                             stride=2 if i == 0 else 1, with_cp=with_cp, **cfgs)
                for i in range(num_blocks)]))
            in_channels = out_channels
        self.layers.append(ConvModule(in_channels, channels[3], 1, **cfgs))
        self.train(self.training)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return forward_stages(nn.Sequential(self.conv1, self.maxpool), list(self.layers), x,
                              self.out_indices)

    def train(self, mode: bool = True) -> ShuffleNetV2:
        super().train(mode)
        frozen = ([self.conv1] + list(self.layers[:self.frozen_stages])
                  if self.frozen_stages >= 0 else [])
        apply_train_rules(self, frozen, self.norm_eval, mode)
        return self
