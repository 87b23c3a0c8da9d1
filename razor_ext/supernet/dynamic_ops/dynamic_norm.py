"""Elastic normalisation: ``DynamicBatchNorm2d`` and ``DynamicLayerNorm`` run on the leading
``num_features`` of their parameters and running statistics."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.supernet.dynamic_ops.dynamic_mixin import DynamicMixin
from razor_ext.registry import MODELS


def _check_width(op: nn.Module, choice: Any, full: int) -> None:
    if not isinstance(choice, int) or not 1 <= choice <= full:
        raise ValueError(f'{type(op).__name__}.num_features: choice {choice!r} must be an int in '
                         f'[1, {full}]')


@MODELS.register_module()
class DynamicBatchNorm2d(DynamicMixin, nn.BatchNorm2d):
    """``nn.BatchNorm2d`` over the input's (leading) channels.

    Training updates the running statistics of the active channels in place (the slices are
    views of the full buffers) and leaves the others untouched, as ``nn.BatchNorm2d`` of that
    width would. ``num_features`` may be driven by a mutable (it then fixes the static width).

    Shapes: ``(N, C_active, H, W)`` -> same.

    Example:
        >>> from razor_ext.supernet.mutables import OneShotMutableChannel
        >>> bn = DynamicBatchNorm2d(8).register_mutable_attr('num_features', OneShotMutableChannel(8, [3, 8]))
        >>> bn.get_mutable_attr('num_features').current_choice = 3
        >>> _ = bn(torch.randn(4, 3, 2, 2))
        >>> bool(bn.running_mean[3:].eq(0).all()), bn.to_static_op().num_features
        (True, 3)
    """

    accepted_mutable_attrs = ('num_features',)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_dynamic()

    def _check_attr_choice(self, attr: str, choice: Any) -> None:
        _check_width(self, choice, self.num_features)

    def forward(self, x: Tensor) -> Tensor:
        c = self.active('num_features', x.shape[1])
        if c != x.shape[1]:
            raise ValueError(f'DynamicBatchNorm2d: num_features mutable chose {c} but the input has '
                             f'{x.shape[1]} channels')
        self._check_input_dim(x)
        _check_width(self, c, self.num_features)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average, as nn.BatchNorm
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        mean = self.running_mean[:c] if track and self.running_mean is not None else None
        var = self.running_var[:c] if track and self.running_var is not None else None
        return F.batch_norm(x, mean, var, None if self.weight is None else self.weight[:c],
                            None if self.bias is None else self.bias[:c], use_batch_stats, factor,
                            self.eps)

    def count_active_params(self, x: Tensor) -> int:
        return 2 * x.shape[1] if self.affine else 0

    def to_static_op(self) -> nn.BatchNorm2d:
        """A plain ``nn.BatchNorm2d`` with copies of the active parameters and statistics."""
        c = self.active('num_features', self.num_features)
        static = nn.BatchNorm2d(c, self.eps, self.momentum, self.affine, self.track_running_stats,
                                device=self.running_mean.device if self.running_mean is not None else None)
        with torch.no_grad():
            for name in ('weight', 'bias', 'running_mean', 'running_var'):
                src = getattr(self, name)
                if src is not None:
                    getattr(static, name).copy_(src[:c])
            if self.num_batches_tracked is not None:
                static.num_batches_tracked.copy_(self.num_batches_tracked)
        return static


@MODELS.register_module()
class DynamicLayerNorm(DynamicMixin, nn.LayerNorm):
    """``nn.LayerNorm`` over the last dim, at the input's (leading) width.

    Shapes: ``(..., D_active)`` -> same.

    Example:
        >>> ln = DynamicLayerNorm(16)
        >>> ln(torch.randn(2, 5, 12)).shape, ln.to_static_op().normalized_shape
        (torch.Size([2, 5, 12]), (16,))
    """

    accepted_mutable_attrs = ('num_features',)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if len(self.normalized_shape) != 1:
            raise ValueError(f'DynamicLayerNorm normalizes one dim, got {self.normalized_shape}')
        self._init_dynamic()

    def _check_attr_choice(self, attr: str, choice: Any) -> None:
        _check_width(self, choice, self.normalized_shape[0])

    def forward(self, x: Tensor) -> Tensor:
        d = self.active('num_features', x.shape[-1])
        if d != x.shape[-1]:
            raise ValueError(f'DynamicLayerNorm: num_features mutable chose {d} but the input has '
                             f'{x.shape[-1]} features')
        _check_width(self, d, self.normalized_shape[0])
        return F.layer_norm(x, (d,), None if self.weight is None else self.weight[:d],
                            None if self.bias is None else self.bias[:d], self.eps)

    def count_active_params(self, x: Tensor) -> int:
        return sum(x.shape[-1] for p in (self.weight, self.bias) if p is not None)

    def to_static_op(self) -> nn.LayerNorm:
        d = self.active('num_features', self.normalized_shape[0])
        static = nn.LayerNorm(d, self.eps, self.elementwise_affine, bias=self.bias is not None)
        with torch.no_grad():
            if self.weight is not None:
                static.weight.copy_(self.weight[:d])
            if self.bias is not None:
                static.bias.copy_(self.bias[:d])
        return static.to(self.weight.device if self.weight is not None else 'cpu')
