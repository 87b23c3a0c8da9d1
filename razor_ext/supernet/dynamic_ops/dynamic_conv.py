"""Elastic convs: ``DynamicConv2d`` (widths, BigNAS centre-crop kernel) and ``OFAConv2d`` (OFA's
learned kernel transformation)."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext import ops
from razor_ext.supernet.dynamic_ops.dynamic_mixin import DynamicMixin
from razor_ext.registry import MODELS


@MODELS.register_module()
class DynamicConv2d(DynamicMixin, nn.Conv2d):
    """``nn.Conv2d`` with elastic ``in_channels``, ``out_channels`` and ``kernel_size``.

    The active sub-conv uses the leading output/input channels and the centred
    ``kernel_size x kernel_size`` window of the full kernel (BigNAS), with padding shrunk so a
    "same" conv stays "same". It runs on :func:`razor_ext.ops.dynamic_conv2d`, which reads the
    active block of the full weight without copying it and gives the full weight a gradient
    that is zero outside that block. A depthwise conv (``groups == in == out``) stays depthwise
    at every width. Active input channels are the input's; a registered ``in_channels`` mutable
    is checked against them and fixes the static op's width.

    Shapes: ``(N, in_active, H, W)`` -> ``(N, out_active, H', W')``.

    Example:
        >>> from razor_ext.supernet.mutables import OneShotMutableChannel, OneShotMutableValue
        >>> conv = DynamicConv2d(8, 16, 5, padding=2)
        >>> out = OneShotMutableChannel(16, [8, 16])
        >>> _ = conv.register_mutable_attr('out_channels', out)
        >>> _ = conv.register_mutable_attr('kernel_size', OneShotMutableValue([3, 5]))
        >>> out.current_choice = 8; conv.get_mutable_attr('kernel_size').current_choice = 3
        >>> conv(torch.randn(1, 8, 7, 7)).shape, conv.to_static_op().weight.shape
        (torch.Size([1, 8, 7, 7]), torch.Size([8, 8, 3, 3]))
    """

    accepted_mutable_attrs = ('in_channels', 'out_channels', 'kernel_size')

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_dynamic()
        if isinstance(self.padding, str):
            raise ValueError("DynamicConv2d needs numeric padding, not 'same'/'valid'")
        if self.padding_mode != 'zeros':
            raise ValueError(f"DynamicConv2d supports padding_mode='zeros' only, got {self.padding_mode!r}")
        if self.kernel_size[0] != self.kernel_size[1]:
            raise ValueError(f'DynamicConv2d needs a square kernel, got {self.kernel_size}')

    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.in_channels == self.out_channels

    def _check_attr_choice(self, attr: str, choice: Any) -> None:
        if self.groups > 1 and not self.depthwise:
            raise ValueError(f'{type(self).__name__}: elastic grouped convs (groups={self.groups}) '
                             f'are not supported; only groups=1 or depthwise')
        full = {'in_channels': self.in_channels, 'out_channels': self.out_channels,
                'kernel_size': self.kernel_size[0]}[attr]
        if not isinstance(choice, int) or not 1 <= choice <= full:
            raise ValueError(f'{type(self).__name__}.{attr}: choice {choice!r} must be an int in '
                             f'[1, {full}]')
        if attr == 'kernel_size':
            if choice % 2 == 0:
                raise ValueError(f'{type(self).__name__}.kernel_size: choice {choice} must be odd')
            self._padding_for(choice)

    def _padding_for(self, k: int) -> tuple[int, int]:
        shrink = (self.kernel_size[0] - k) // 2
        pad = tuple(p - shrink * d for p, d in zip(self.padding, self.dilation))
        if min(pad) < 0:
            raise ValueError(f'{type(self).__name__}: padding {self.padding} cannot shrink for '
                             f'kernel_size {k}')
        return pad  # type: ignore[return-value]

    def active_shape(self, in_channels: int | None = None) -> tuple[int, int, int]:
        """``(in, out, kernel)`` of the active sub-conv."""
        cin = self.active('in_channels', in_channels or self.in_channels)
        cout = cin if self.depthwise else self.active('out_channels', self.out_channels)
        return cin, cout, self.active('kernel_size', self.kernel_size[0])

    def forward(self, x: Tensor) -> Tensor:
        cin, cout, k = self.active_shape(x.shape[1])
        if cin != x.shape[1]:
            raise ValueError(f'{type(self).__name__}: in_channels mutable chose {cin} but the input '
                             f'has {x.shape[1]} channels')
        return self._forward_active(x, cout, k)

    def _active_weight_source(self, k: int) -> tuple[Tensor, int | None]:
        """The weight the kernel reads and the crop it applies (BigNAS: the full weight,
        centre-cropped by the op)."""
        return self.weight, (None if k == self.kernel_size[0] else k)

    def _forward_active(self, x: Tensor, cout: int, k: int) -> Tensor:
        weight, crop = self._active_weight_source(k)
        groups = x.shape[1] if self.depthwise else 1
        return ops.dynamic_conv2d(x, weight, self.bias, cout, self.stride, self._padding_for(k),
                                  self.dilation, groups, crop)

    def count_active_params(self, x: Tensor) -> int:
        cin, cout, k = self.active_shape(x.shape[1])
        per_out = (1 if self.depthwise else cin) * k * k
        return cout * per_out + (cout if self.bias is not None else 0)

    def to_static_op(self) -> nn.Conv2d:
        """A plain ``nn.Conv2d`` holding a copy of the active weights (same outputs)."""
        cin, cout, k = self.active_shape()
        weight, crop = self._active_weight_source(k)
        if crop is not None:
            lo = (weight.shape[-1] - k) // 2
            weight = weight[..., lo:lo + k, lo:lo + k]
        groups = cin if self.depthwise else 1
        static = nn.Conv2d(cin, cout, k, self.stride, self._padding_for(k), self.dilation, groups,
                           self.bias is not None, device=self.weight.device, dtype=self.weight.dtype)
        with torch.no_grad():
            static.weight.copy_(weight[:cout, :(1 if self.depthwise else cin)])
            if self.bias is not None:
                static.bias.copy_(self.bias[:cout])
        return static


MODELS.register_module('BigNasConv2d', module=DynamicConv2d)


@MODELS.register_module()
class OFAConv2d(DynamicConv2d):
    """:class:`DynamicConv2d` whose smaller kernels are the centre of the next larger one times
    a learned ``k*k x k*k`` transformation matrix (Once-for-All), initialised to identity.

    The matrices are created when a ``kernel_size`` mutable is registered (one per step between
    consecutive kernel choices, ``trans_matrix_7to5`` ...), so build the optimizer afterwards.

    Example:
        >>> from razor_ext.supernet.mutables import OneShotMutableValue
        >>> conv = OFAConv2d(4, 4, 7, padding=3)
        >>> _ = conv.register_mutable_attr('kernel_size', OneShotMutableValue([3, 5, 7]))
        >>> sorted(conv.trans_matrix)
        ['5to3', '7to5']
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trans_matrix = nn.ParameterDict()

    def register_mutable_attr(self, attr: str, mutable: Any) -> OFAConv2d:
        super().register_mutable_attr(attr, mutable)
        if attr == 'kernel_size':
            sizes = sorted(set(getattr(mutable, 'choices', [mutable.current_choice])) |
                           {self.kernel_size[0]}, reverse=True)
            for big, small in zip(sizes, sizes[1:]):
                key = f'{big}to{small}'
                if key not in self.trans_matrix:
                    self.trans_matrix[key] = nn.Parameter(
                        torch.eye(small * small, device=self.weight.device, dtype=self.weight.dtype))
        return self

    def _active_weight_source(self, k: int) -> tuple[Tensor, int | None]:
        weight = self.weight
        size = self.kernel_size[0]
        while size > k:
            steps = [key for key in self.trans_matrix if key.startswith(f'{size}to')]
            if not steps:
                raise ValueError(f'OFAConv2d: no kernel transformation from {size}; register a '
                                 f'kernel_size mutable holding {k}')
            small = int(steps[0].split('to')[1])
            lo = (size - small) // 2
            centre = weight[..., lo:lo + small, lo:lo + small]
            shape = centre.shape
            weight = F.linear(centre.reshape(-1, small * small),
                              self.trans_matrix[steps[0]]).reshape(shape)
            size = small
        return weight, None
