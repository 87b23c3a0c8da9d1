"""mmcls's ``GlobalAveragePooling`` neck."""
from __future__ import annotations

from torch import Tensor, nn

from razor_ext.registry import MODELS


@MODELS.register_module(name=['GlobalAveragePooling', 'mmcls.GlobalAveragePooling'])
class GlobalAveragePooling(nn.Module):
    """Average each feature map over its spatial dims and flatten (``gap``, as mmcls names it).

    Args:
        dim: 1, 2 or 3 spatial dims.

    Shapes: a tensor or tuple of ``(N, C, *spatial)`` -> the same container of ``(N, C)``.

    Example:
        >>> import torch
        >>> GlobalAveragePooling()((torch.ones(2, 3, 4, 4),))[0].shape
        torch.Size([2, 3])
    """

    def __init__(self, dim: int = 2) -> None:
        super().__init__()
        pools = {1: nn.AdaptiveAvgPool1d(1), 2: nn.AdaptiveAvgPool2d((1, 1)),
                 3: nn.AdaptiveAvgPool3d((1, 1, 1))}
        if dim not in pools:
            raise ValueError(f'GlobalAveragePooling: dim must be 1, 2 or 3, got {dim!r}')
        self.gap = pools[dim]

    def forward(self, inputs: Tensor | tuple[Tensor, ...]) -> Tensor | tuple[Tensor, ...]:
        if isinstance(inputs, tuple):
            return tuple(self.gap(x).flatten(1) for x in inputs)
        if isinstance(inputs, Tensor):
            return self.gap(inputs).flatten(1)
        raise TypeError(f'GlobalAveragePooling takes a tensor or a tuple of tensors, got '
                        f'{type(inputs).__name__}')
