"""``AttentiveMobileNetV3``: the BigNAS / AttentiveNAS searchable MobileNetV3 (MMRazor's class
name, arguments and mutable aliases, so its ``ATTENTIVE_SUBNET_*.yaml`` files load), built from
razor_ext's dynamic ops."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.architectures.backbones.mobilenet_v2 import make_divisible
from razor_ext.architectures.backbones.stages import apply_train_rules, check_indices, forward_stages
from razor_ext.supernet.dynamic_ops import (DynamicBatchNorm2d, DynamicConv2d, DynamicSequential,
                                            OFAConv2d)
from razor_ext.supernet.mutables import DerivedMutable, OneShotMutableChannel, OneShotMutableValue
from razor_ext.registry import MODELS

_ACTS: dict[str, type[nn.Module]] = {'Swish': nn.SiLU, 'ReLU': nn.ReLU, 'HSwish': nn.Hardswish,
                                     'HSigmoid': nn.Hardsigmoid}
_CONVS = {'BigNasConv2d': DynamicConv2d, 'DynamicConv2d': DynamicConv2d, 'OFAConv2d': OFAConv2d}


def parse_values(settings: Sequence[Sequence[int]]) -> list[list[int]]:
    """MMRazor's ``[min, max, step]`` rows as value lists: ``[3, 5, 2]`` -> ``[3, 5]``."""
    return [list(range(lo, hi + 1, step)) for lo, hi, step in settings]


class DynamicConvModule(nn.Module):
    """Dynamic conv -> optional dynamic BN (``bn``) -> optional activation (``activate``), with
    mmcv's child names; :meth:`mutate` registers the channel / kernel mutables."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 groups: int = 1, bias: bool = False, norm: bool = True, act: str | None = 'Swish',
                 conv_type: type[DynamicConv2d] = DynamicConv2d, bn_momentum: float = 0.1) -> None:
        super().__init__()
        self.conv = conv_type(in_channels, out_channels, kernel_size, stride, kernel_size // 2,
                              groups=groups, bias=bias)
        self.bn = DynamicBatchNorm2d(out_channels, momentum=bn_momentum) if norm else None
        self.activate = _ACTS[act]() if act is not None else None

    def mutate(self, in_channels: Any = None, out_channels: Any = None, kernel_size: Any = None) -> None:
        for attr, mutable in (('in_channels', in_channels), ('out_channels', out_channels),
                              ('kernel_size', kernel_size)):
            if mutable is not None and not (attr == 'out_channels' and self.conv.depthwise):
                self.conv.register_mutable_attr(attr, mutable)
        if self.bn is not None and (out_channels or in_channels) is not None:
            self.bn.register_mutable_attr('num_features', out_channels or in_channels)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return x if self.activate is None else self.activate(x)


class DynamicSELayer(nn.Module):
    """Squeeze-excitation (mmcls' ``SELayer``: ReLU then HSigmoid, squeeze to
    ``make_divisible(channels // 4, 8)``) over elastic channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        squeeze = make_divisible(channels // 4, 8)
        # a module, as mmcls's SELayer has: MMRazor's counter counts the pooling
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = DynamicConvModule(channels, squeeze, 1, bias=True, norm=False, act='ReLU')
        self.conv2 = DynamicConvModule(squeeze, channels, 1, bias=True, norm=False, act='HSigmoid')

    def forward(self, x: Tensor) -> Tensor:
        return x * self.conv2(self.conv1(self.global_avgpool(x)))


class ShortcutLayer(nn.Module):
    """AttentiveNAS's shortcut: average-pool by the stride, then a 1x1 conv when the active
    widths differ."""

    def __init__(self, in_channels: int, out_channels: int, reduction: int) -> None:
        super().__init__()
        self.reduction = reduction
        self.conv = DynamicConv2d(in_channels, out_channels, 1, bias=False)
        self.out_mutable: Any = None

    def forward(self, x: Tensor) -> Tensor:
        if self.reduction > 1:
            x = F.avg_pool2d(x, self.reduction, padding=x.shape[-1] & 1)
        return self.conv(x) if self._widths_differ(x.shape[1]) else x

    def _widths_differ(self, in_channels: int) -> bool:
        out = self.conv.out_channels if self.out_mutable is None else self.out_mutable.current_choice
        return in_channels != out

    def runs_child(self, name: str) -> bool:
        """Whether child ``name`` runs with the current choices (read by the analytic
        resource estimator): the conv runs when the active widths differ."""
        cin = self.conv.mutable_attrs['in_channels'].current_choice if 'in_channels' in \
            self.conv.mutable_attrs else self.conv.in_channels
        return name != 'conv' or self._widths_differ(cin)


def drop_path(x: Tensor, rate: float, training: bool) -> Tensor:
    """Stochastic depth: zero whole samples with probability ``rate`` and rescale the others
    (mmcv's ``drop_path``); identity when not training or ``rate == 0``."""
    if rate <= 0.0 or not training:
        return x
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class AttentiveMBBlock(nn.Module):
    """Elastic inverted residual: 1x1 expand, depthwise kxk, optional SE, 1x1 linear, plus the
    attentive shortcut (BigNAS) or, without it (OFA), the identity residual when the block keeps
    its stride and width. ``drop_path_rate`` (set by BigNAS per step) applies stochastic depth
    to the residual branch, as MMRazor's ``MBBlock`` does."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 expand_ratio: int, use_se: bool, act: str, conv_type: type[DynamicConv2d],
                 bn_momentum: float, with_attentive_shortcut: bool = True) -> None:
        super().__init__()
        mid = in_channels * expand_ratio
        kw = dict(conv_type=conv_type, bn_momentum=bn_momentum)
        self.with_expand_conv = mid != in_channels
        if self.with_expand_conv:
            self.expand_conv = DynamicConvModule(in_channels, mid, 1, act=act, **kw)
        self.depthwise_conv = DynamicConvModule(mid, mid, kernel_size, stride, groups=mid, act=act, **kw)
        self.se = DynamicSELayer(mid) if use_se else None
        self.linear_conv = DynamicConvModule(mid, out_channels, 1, act=None, **kw)
        self.with_attentive_shortcut = with_attentive_shortcut
        self.with_res_shortcut = (stride == 1 and in_channels == out_channels
                                  and not with_attentive_shortcut)
        self.shortcut = ShortcutLayer(in_channels, out_channels, stride) \
            if with_attentive_shortcut else None
        self.drop_path_rate = 0.0

    def mutate(self, in_channels: Any, out_channels: Any, expand_ratio: Any, kernel_size: Any,
               se_expand_ratio: Any = None) -> None:
        """Register the mutables; ``se_expand_ratio`` (OFA's fine-grained mode) sizes the SE
        squeeze from its own expand-ratio mutable, as MMRazor does."""
        mid = DerivedMutable(lambda c, e: c * e, in_channels, expand_ratio)
        if self.with_expand_conv:
            self.expand_conv.mutate(in_channels, mid)
        self.depthwise_conv.mutate(mid, mid, kernel_size)
        if self.se is not None:
            se_mid = mid if se_expand_ratio is None else DerivedMutable(
                lambda c, e: c * e, in_channels, se_expand_ratio)
            squeeze = se_mid.derive(lambda m: make_divisible(m // 4, 8))
            self.se.conv1.mutate(mid, squeeze)
            self.se.conv2.mutate(squeeze, mid)
        self.linear_conv.mutate(mid, out_channels)
        if self.shortcut is not None:
            self.shortcut.conv.register_mutable_attr('in_channels', in_channels)
            self.shortcut.conv.register_mutable_attr('out_channels', out_channels)
            self.shortcut.out_mutable = out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.expand_conv(x) if self.with_expand_conv else x
        out = self.depthwise_conv(out)
        if self.se is not None:
            out = self.se(out)
        out = self.linear_conv(out)
        if self.with_res_shortcut:
            return x + drop_path(out, self.drop_path_rate, self.training)
        if self.shortcut is None:
            return out
        short = self.shortcut(x)
        if short.shape[1] == x.shape[1] and self.shortcut.reduction == 1:
            out = drop_path(out, self.drop_path_rate, self.training)
        return short + out


@MODELS.register_module()
class AttentiveMobileNetV3(nn.Module):
    """BigNAS / AttentiveNAS searchable MobileNetV3 (MMRazor's ``AttentiveMobileNetV3``).

    ``arch_setting`` rows are MMRazor's ``[min, max, step]``: ``kernel_size`` / ``num_blocks`` /
    ``expand_ratio`` per stage (7 stages; ``expand_ratio`` has an 8th row for the last layer),
    ``num_out_channels`` for the first conv, the 7 stages and the last layer. Mutable aliases
    are MMRazor's: ``backbone.first_channels``, ``backbone.last_channels`` and
    ``backbone.layers.{1..7}.{kernel_size,expand_ratio,depth,out_channels}``. Blocks use the
    AttentiveNAS shortcut (average pool + 1x1 conv when the shape changes).

    Args:
        arch_setting: the search space (see ``configs/_base_/nas_backbones``).
        widen_factor: channel multiplier (rounded to multiples of 8).
        out_indices: which of the 8 stages to return (7: the last conv).
        conv_cfg: ``dict(type='BigNasConv2d')`` (centre-crop kernels) or ``'OFAConv2d'``.
        norm_cfg: ``dict(type='DynamicBatchNorm2d', momentum=...)``.
        act_cfg_list: 9 activation names (first conv, 7 stages, last layer); default Swish.
        stride_list: stride of each stage's first block.
        with_se_list: SE per stage.
        fine_grained_mode: a kernel-size and expand-ratio mutable per block
            (``backbone.layers.{i}.{k}.kernel_size``...; OFA) instead of per stage.
        with_attentive_shortcut: AttentiveNAS's shortcut (BigNAS); False gives the identity
            residual of blocks that keep stride and width (OFA).
        The number of stages is the number of ``kernel_size`` rows (7 for BigNAS, 6 for OFA);
        ``stride_list`` / ``with_se_list`` need one entry per stage, ``act_cfg_list`` two more.

    Shapes: ``(N, 3, H, W)`` -> tuple of ``(N, C_i, ...)`` per out index; index 7 is
    ``(N, last_channels, 1, 1)``.

    Example:
        >>> import torch
        >>> setting = dict(kernel_size=[[3, 5, 2]] * 7, num_blocks=[[1, 2, 1]] * 7,
        ...                expand_ratio=[[1, 1, 1]] + [[4, 6, 2]] * 6 + [[6, 6, 1]],
        ...                num_out_channels=[[8, 16, 8]] * 8 + [[64, 64, 1]])
        >>> net = AttentiveMobileNetV3(setting).eval()
        >>> net(torch.randn(1, 3, 32, 32))[0].shape
        torch.Size([1, 64, 1, 1])
    """

    def __init__(self, arch_setting: Mapping[str, Sequence[Sequence[int]]], widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (7,), frozen_stages: int = -1,
                 conv_cfg: Mapping[str, Any] | None = None, norm_cfg: Mapping[str, Any] | None = None,
                 act_cfg_list: Sequence[str] | None = None, stride_list: Sequence[int] | None = None,
                 with_se_list: Sequence[bool] | None = None, norm_eval: bool = False,
                 with_cp: bool = False, zero_init_residual: bool = True,
                 fine_grained_mode: bool = False, with_attentive_shortcut: bool = True,
                 init_cfg: Any = None) -> None:
        super().__init__()
        num_stages = len(arch_setting['kernel_size'])
        check_indices(out_indices, frozen_stages, num_stages + 1)
        conv_type = _CONVS.get(str(dict(conv_cfg or {'type': 'BigNasConv2d'})['type']).split('.')[-1])
        if conv_type is None:
            raise ValueError(f'conv_cfg type must be one of {sorted(_CONVS)}, got {conv_cfg!r}')
        norm = dict(norm_cfg or {'type': 'DynamicBatchNorm2d'})
        if str(norm.pop('type')).split('.')[-1] != 'DynamicBatchNorm2d':
            raise ValueError(f"norm_cfg must be dict(type='DynamicBatchNorm2d', ...), got {norm_cfg!r}")
        momentum = norm.get('momentum', 0.1)
        self.out_indices, self.frozen_stages, self.norm_eval = tuple(out_indices), frozen_stages, norm_eval
        self.fine_grained_mode = fine_grained_mode
        self.with_attentive_shortcut = with_attentive_shortcut
        acts = list(act_cfg_list or ['Swish'] * 9)
        strides = list(stride_list or [1, 2, 2, 2, 1, 2, 1])
        with_se = list(with_se_list or [False, False, True, False, True, True, True])
        kernels = parse_values(arch_setting['kernel_size'])
        blocks = parse_values(arch_setting['num_blocks'])
        expands = parse_values(arch_setting['expand_ratio'])
        channels = [[make_divisible(c * widen_factor, 8) for c in row]
                    for row in parse_values(arch_setting['num_out_channels'])]
        first_ch, last_ch, last_expand = channels.pop(0), channels.pop(-1), expands.pop(-1)
        if not (len(kernels) == len(blocks) == len(expands) == len(channels) == len(strides)
                == len(with_se)) or len(acts) < num_stages + 2:
            raise ValueError(f'arch_setting needs {num_stages} stage rows ({num_stages + 1} for '
                             f'expand_ratio, {num_stages + 2} for num_out_channels), and '
                             f'stride_list / with_se_list / act_cfg_list (at least '
                             f'{num_stages + 2}: the first conv, each stage, the last) must fit')
        kw = dict(conv_type=conv_type, bn_momentum=momentum)
        cin = max(first_ch)
        self.first_conv = DynamicConvModule(3, cin, 3, 2, act=acts[0], **kw)
        self.first_mutable_channels = OneShotMutableChannel(cin, first_ch, alias='backbone.first_channels')
        self.first_conv.mutate(out_channels=self.first_mutable_channels)
        self.layers = []
        previous = self.first_mutable_channels
        for i in range(num_stages):
            prefix = f'backbone.layers.{i + 1}.'
            out_mutable = OneShotMutableChannel(max(channels[i]), channels[i], alias=prefix + 'out_channels')
            stage = []
            for k in range(max(blocks[i])):
                # fine-grained mode (OFA): kernel and expand ratio per block, and the SE squeeze
                # width from a separate expand-ratio mutable (MMRazor's ``expand_ratio_se``)
                if fine_grained_mode or k == 0:
                    tag = f'{prefix}{k}.' if fine_grained_mode else prefix
                    kernel = OneShotMutableValue(kernels[i], alias=tag + 'kernel_size')
                    expand = OneShotMutableValue(expands[i], alias=tag + 'expand_ratio')
                    se_expand = OneShotMutableValue(expands[i], alias=tag + 'expand_ratio_se') \
                        if fine_grained_mode and with_se[i] else None
                block = AttentiveMBBlock(cin, max(channels[i]), max(kernels[i]),
                                         strides[i] if k == 0 else 1, max(expands[i]), with_se[i],
                                         acts[i + 1], with_attentive_shortcut=with_attentive_shortcut,
                                         **kw)
                block.mutate(previous, out_mutable, expand, kernel, se_expand)
                stage.append(block)
                cin, previous = max(channels[i]), out_mutable
            layer = DynamicSequential(*stage)
            layer.register_mutable_attr('depth', OneShotMutableValue(blocks[i], alias=prefix + 'depth'))
            self.add_module(f'layer{i + 1}', layer)
            self.layers.append(layer)
        expand_mutable = OneShotMutableValue(last_expand)
        mid = DerivedMutable(lambda c, e: c * e, previous, expand_mutable)
        self.last_mutable_channels = OneShotMutableChannel(max(last_ch), last_ch, alias='backbone.last_channels')
        self.last_expand_ratio = expand_mutable
        self.last_conv = nn.Sequential()
        self.last_conv.add_module('final_expand_layer', DynamicConvModule(
            cin, cin * max(last_expand), 1, act=acts[-1], **kw))
        self.last_conv.add_module('pool', nn.AdaptiveAvgPool2d(1))
        self.last_conv.add_module('feature_mix_layer', DynamicConvModule(
            cin * max(last_expand), max(last_ch), 1, norm=False, act=acts[-1], **kw))
        self.last_conv.final_expand_layer.mutate(previous, mid)
        self.last_conv.feature_mix_layer.mutate(mid, self.last_mutable_channels)
        self.layers.append(self.last_conv)
        self.out_channels = max(last_ch)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return forward_stages(self.first_conv, self.layers, x, self.out_indices)

    def train(self, mode: bool = True) -> AttentiveMobileNetV3:
        super().train(mode)
        frozen = [self.first_conv] + self.layers[:self.frozen_stages] if self.frozen_stages >= 0 else []
        apply_train_rules(self, frozen, self.norm_eval, mode)
        return self
