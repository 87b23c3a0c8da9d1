"""``DynamicInputResizer``: resize the input images to a searchable resolution (BigNAS / OFA
search the input size together with the network; MMRazor's ``DynamicInputResizer``)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.supernet.dynamic_ops.dynamic_mixin import DynamicMixin
from razor_ext.registry import MODELS

_MODES = ('nearest', 'bilinear', 'bicubic', 'area', 'nearest-exact')


@MODELS.register_module()
class InputResizer(nn.Module):
    """Resize ``(N, C, H, W)`` images to ``size`` (``[h, w]``; None keeps the input size).

    Example:
        >>> import torch
        >>> InputResizer([8, 6])(torch.randn(1, 3, 4, 4)).shape
        torch.Size([1, 3, 8, 6])
    """

    def __init__(self, size: Sequence[int] | None = None, interpolation_type: str = 'bicubic',
                 align_corners: bool = False) -> None:
        super().__init__()
        if interpolation_type not in _MODES:
            raise ValueError(f'interpolation_type must be one of {_MODES}, got '
                             f'{interpolation_type!r}')
        self.size = None if size is None else [int(s) for s in size]
        self.interpolation_type, self.align_corners = interpolation_type, align_corners

    def resize(self, x: Tensor, size: Sequence[int] | None) -> Tensor:
        if size is None or list(x.shape[-2:]) == list(size):
            return x
        corners = self.align_corners if self.interpolation_type in ('bilinear', 'bicubic') else None
        return F.interpolate(x, size=[int(s) for s in size], mode=self.interpolation_type,
                             align_corners=corners)

    def forward(self, x: Tensor) -> Tensor:
        return self.resize(x, self.size)


@MODELS.register_module()
class DynamicInputResizer(DynamicMixin, InputResizer):
    """:class:`InputResizer` whose ``shape`` follows a mutable whose choices are ``[h, w]``
    lists; its static op is an :class:`InputResizer` of the chosen size.

    Example:
        >>> import torch
        >>> from razor_ext.supernet.mutables import OneShotMutableValue
        >>> resizer = DynamicInputResizer()
        >>> shape = OneShotMutableValue([[8, 8], [12, 12]], alias='input_shape')
        >>> _ = resizer.register_mutable_attr('shape', shape)
        >>> shape.current_choice = [8, 8]
        >>> resizer(torch.randn(2, 3, 32, 32)).shape, resizer.to_static_op().size
        (torch.Size([2, 3, 8, 8]), [8, 8])
    """

    accepted_mutable_attrs = ('shape',)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_dynamic()

    def _check_attr_choice(self, attr: str, choice: Any) -> None:
        if not (isinstance(choice, Sequence) and len(choice) == 2
                and all(isinstance(c, int) and c > 0 for c in choice)):
            raise ValueError(f'DynamicInputResizer.shape: a choice must be [h, w] (positive '
                             f'ints), got {choice!r}')

    def forward(self, x: Tensor) -> Tensor:
        return self.resize(x, self.active('shape', self.size))

    def count_active_params(self, x: Any) -> int:
        return 0

    def to_static_op(self) -> InputResizer:
        return InputResizer(self.active('shape', self.size), self.interpolation_type,
                            self.align_corners)
