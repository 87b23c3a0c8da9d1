"""mmcls's ``ResNet`` and ``ResNet_CIFAR`` backbones (depths 18-152), with mmcls's module paths
(``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer2.0.downsample.0``), so checkpoint keys and
MMRazor's channel-unit names (``backbone.layer1.0.conv1_(0, 64)_64``) line up."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from razor_ext.architectures.backbones.stages import apply_train_rules, check_indices
from razor_ext.architectures.ops.layer_builders import build_norm_layer
from razor_ext.registry import MODELS

_BN = {'type': 'BN', 'requires_grad': True}


def _norm(cfg: Mapping[str, Any], channels: int) -> nn.Module:
    return build_norm_layer(cfg, channels)[1]


class BasicBlock(nn.Module):
    """3x3 -> 3x3 residual block (expansion 1): ``conv1``, ``bn1``, ``conv2``, ``bn2``,
    ``downsample``. Shapes: ``(N, in_channels, H, W)`` -> ``(N, out_channels, H/stride, W/stride)``."""

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, norm_cfg: Mapping[str, Any] = _BN) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.mid_channels = out_channels // self.expansion
        self.conv1 = nn.Conv2d(in_channels, self.mid_channels, 3, stride, dilation, dilation,
                               bias=False)
        self.bn1 = _norm(norm_cfg, self.mid_channels)
        self.conv2 = nn.Conv2d(self.mid_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = _norm(norm_cfg, out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 residual block (expansion 4); ``style='pytorch'`` strides the 3x3 conv,
    ``'caffe'`` the first 1x1. Shapes as :class:`BasicBlock`."""

    expansion = 4

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, norm_cfg: Mapping[str, Any] = _BN,
                 style: str = 'pytorch') -> None:
        super().__init__()
        if style not in ('pytorch', 'caffe'):
            raise ValueError(f"style must be 'pytorch' or 'caffe', got {style!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        mid = self.mid_channels = out_channels // self.expansion
        s1, s2 = (1, stride) if style == 'pytorch' else (stride, 1)
        self.conv1 = nn.Conv2d(in_channels, mid, 1, s1, bias=False)
        self.bn1 = _norm(norm_cfg, mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, s2, dilation, dilation, bias=False)
        self.bn2 = _norm(norm_cfg, mid)
        self.conv3 = nn.Conv2d(mid, out_channels, 1, bias=False)
        self.bn3 = _norm(norm_cfg, out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def res_layer(block: type[nn.Module], num_blocks: int, in_channels: int, out_channels: int,
              stride: int, dilation: int, norm_cfg: Mapping[str, Any], avg_down: bool,
              **block_kwargs: Any) -> nn.Sequential:
    """mmcls's ``ResLayer``: ``num_blocks`` blocks, the first one strided, with a 1x1 conv + norm
    shortcut (``downsample.0`` / ``.1``; an average pool first when ``avg_down``)."""
    downsample = None
    if stride != 1 or in_channels != out_channels:
        parts: list[nn.Module] = []
        conv_stride = stride
        if avg_down and stride != 1:
            conv_stride = 1
            parts.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
        parts += [nn.Conv2d(in_channels, out_channels, 1, conv_stride, bias=False),
                  _norm(norm_cfg, out_channels)]
        downsample = nn.Sequential(*parts)
    blocks = [block(in_channels, out_channels, stride, dilation, downsample, norm_cfg, **block_kwargs)]
    blocks += [block(out_channels, out_channels, 1, dilation, None, norm_cfg, **block_kwargs)
               for _ in range(1, num_blocks)]
    return nn.Sequential(*blocks)


@MODELS.register_module(name=['mmcls.ResNet', 'mmcls.ResNetV1b'])
class ResNet(nn.Module):
    """mmcls's ResNet backbone: a 7x7 stem + max-pool, then ``num_stages`` residual layers.

    Args:
        depth: 18, 34 (BasicBlock), 50, 101, 152 (Bottleneck).
        in_channels, stem_channels, base_channels: input, stem and first-stage widths.
        num_stages, strides, dilations: residual layers and their first strides / dilations.
        out_indices: layers whose outputs are returned (default the last).
        style: ``'pytorch'`` or ``'caffe'`` (which conv of a Bottleneck strides).
        deep_stem: three 3x3 convs (``stem``) instead of the 7x7 ``conv1``.
        avg_down: average-pool before the 1x1 shortcut conv.
        frozen_stages, norm_cfg, norm_eval, zero_init_residual: as in mmcls.
        conv_cfg, with_cp, init_cfg, drop_path_rate: accepted for config compatibility
            (``drop_path_rate`` must be 0).

    Shapes: ``(N, 3, H, W)`` -> tuple of ``(N, C_i, H / 2**(i+2), W / 2**(i+2))`` per out index.

    Example:
        >>> import torch
        >>> net = ResNet(depth=18)
        >>> [tuple(o.shape) for o in net(torch.randn(1, 3, 64, 64))], sum(p.numel() for p in net.parameters())
        ([(1, 512, 2, 2)], 11176512)
    """

    arch_settings = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)),
                     50: (Bottleneck, (3, 4, 6, 3)), 101: (Bottleneck, (3, 4, 23, 3)),
                     152: (Bottleneck, (3, 8, 36, 3))}

    def __init__(self, depth: int, in_channels: int = 3, stem_channels: int = 64,
                 base_channels: int = 64, expansion: int | None = None, num_stages: int = 4,
                 strides: Sequence[int] = (1, 2, 2, 2), dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (3,), style: str = 'pytorch',
                 deep_stem: bool = False, avg_down: bool = False, frozen_stages: int = -1,
                 conv_cfg: Any = None, norm_cfg: Mapping[str, Any] = _BN, norm_eval: bool = False,
                 with_cp: bool = False, zero_init_residual: bool = True, init_cfg: Any = None,
                 drop_path_rate: float = 0.0) -> None:
        super().__init__()
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for resnet; choose one of {sorted(self.arch_settings)}')
        if not 1 <= num_stages <= 4:
            raise ValueError(f'num_stages must be 1 to 4, got {num_stages}')
        if drop_path_rate:
            raise ValueError('ResNet: drop_path_rate > 0 is not implemented in razor_ext')
        check_indices(out_indices, frozen_stages, num_stages)
        block, stage_blocks = self.arch_settings[depth]
        self.depth, self.out_indices, self.frozen_stages = depth, tuple(out_indices), frozen_stages
        self.norm_eval, self.zero_init_residual, self.deep_stem = norm_eval, zero_init_residual, deep_stem
        self.with_cp, self.init_cfg = with_cp, init_cfg
        self.expansion = expansion or block.expansion
        self._make_stem_layer(in_channels, stem_channels, norm_cfg)
        self.res_layers: list[str] = []
        channels, out_channels = stem_channels, base_channels * self.expansion
        extra = {'style': style} if block is Bottleneck else {}
        for i, num_blocks in enumerate(stage_blocks[:num_stages]):
            layer = res_layer(block, num_blocks, channels, out_channels, strides[i], dilations[i],
                              norm_cfg, avg_down, **extra)
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
            channels, out_channels = out_channels, out_channels * 2
        self.feat_dim = channels
        self.train(self.training)

    def _make_stem_layer(self, in_channels: int, stem_channels: int, norm_cfg: Mapping[str, Any]) -> None:
        if self.deep_stem:
            half = stem_channels // 2
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, half, 3, 2, 1, bias=False), _norm(norm_cfg, half), nn.ReLU(True),
                nn.Conv2d(half, half, 3, 1, 1, bias=False), _norm(norm_cfg, half), nn.ReLU(True),
                nn.Conv2d(half, stem_channels, 3, 1, 1, bias=False), _norm(norm_cfg, stem_channels),
                nn.ReLU(True))
        else:
            self.conv1 = nn.Conv2d(in_channels, stem_channels, 7, 2, 3, bias=False)
            self.bn1 = _norm(norm_cfg, stem_channels)
            self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)

    def _stem(self, x: Tensor) -> Tensor:
        x = self.stem(x) if self.deep_stem else self.relu(self.bn1(self.conv1(x)))
        return self.maxpool(x)

    def init_weights(self) -> None:
        """Kaiming-normal convs, norms at 1 / 0; the last norm of each block at 0 when
        ``zero_init_residual`` (each block starts as the identity)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if self.zero_init_residual:
            for m in self.modules():
                last = getattr(m, 'bn3', None) if isinstance(m, Bottleneck) else (
                    getattr(m, 'bn2', None) if isinstance(m, BasicBlock) else None)
                if last is not None:
                    nn.init.zeros_(last.weight)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        x = self._stem(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> ResNet:
        super().train(mode)
        frozen: list[nn.Module] = []
        if self.frozen_stages >= 0:
            frozen = [self.stem] if self.deep_stem else [self.conv1, self.bn1]
            frozen += [getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1)]
        apply_train_rules(self, frozen, self.norm_eval, mode)
        return self


@MODELS.register_module(name=['ResNet_CIFAR', 'mmcls.ResNet_CIFAR'])
class ResNet_CIFAR(ResNet):  # noqa: N801  (mmcls's class name)
    """mmcls's ResNet for 32x32 images: a 3x3 stride-1 ``conv1`` stem and no max-pool.

    Example:
        >>> import torch
        >>> net = ResNet_CIFAR(depth=18)
        >>> net(torch.randn(2, 3, 32, 32))[0].shape
        torch.Size([2, 512, 4, 4])
    """

    def __init__(self, depth: int, deep_stem: bool = False, **kwargs: Any) -> None:
        if deep_stem:
            raise ValueError('ResNet_CIFAR does not support deep_stem')
        super().__init__(depth, deep_stem=False, **kwargs)

    def _make_stem_layer(self, in_channels: int, stem_channels: int, norm_cfg: Mapping[str, Any]) -> None:
        self.conv1 = nn.Conv2d(in_channels, stem_channels, 3, 1, 1, bias=False)
        self.bn1 = _norm(norm_cfg, stem_channels)
        self.relu = nn.ReLU(inplace=True)

    def _stem(self, x: Tensor) -> Tensor:
        return self.relu(self.bn1(self.conv1(x)))
