"""MMRazor's ``SqueezeMeanPoolingWithDropout`` neck (BigNAS / AttentiveNAS classifiers)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.registry import MODELS


@MODELS.register_module(name=['SqueezeMeanPoolingWithDropout',
                              'mmrazor.SqueezeMeanPoolingWithDropout'])
class SqueezeMeanPoolingWithDropout(nn.Module):
    """Mean over every dim after the channels, then dropout ``drop_ratio`` in training.

    Args:
        drop_ratio: dropout probability (None or 0: no dropout).

    Shapes: a tensor or tuple of ``(N, C, *spatial)`` -> the same container of ``(N, C)``.

    Example:
        >>> import torch
        >>> neck = SqueezeMeanPoolingWithDropout(0.2).eval()
        >>> neck((torch.arange(8.).reshape(1, 2, 2, 2),))[0].tolist()
        [[1.5, 5.5]]
    """

    def __init__(self, drop_ratio: float | None = 0.2) -> None:
        super().__init__()
        if drop_ratio is not None and not 0.0 <= drop_ratio < 1.0:
            raise ValueError(f'drop_ratio must be in [0, 1), got {drop_ratio!r}')
        self.drop_ratio = drop_ratio or 0.0

    def _reduce(self, x: Tensor) -> Tensor:
        if x.ndim < 2:
            raise ValueError(f'SqueezeMeanPoolingWithDropout takes (N, C, ...) inputs, got shape '
                             f'{tuple(x.shape)}')
        x = x.flatten(2).mean(2) if x.ndim > 2 else x
        return F.dropout(x, self.drop_ratio, self.training) if self.drop_ratio > 0 else x

    def forward(self, inputs: Tensor | tuple[Tensor, ...]) -> Tensor | tuple[Tensor, ...]:
        if isinstance(inputs, tuple):
            return tuple(self._reduce(x) for x in inputs)
        if isinstance(inputs, Tensor):
            return self._reduce(inputs)
        raise TypeError(f'neck inputs must be a tensor or a tuple of tensors, got '
                        f'{type(inputs).__name__}')
