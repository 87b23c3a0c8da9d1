"""``DynamicLinear``: ``nn.Linear`` with elastic in/out features."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from razor_ext import ops
from razor_ext.supernet.dynamic_ops.dynamic_mixin import DynamicMixin
from razor_ext.registry import MODELS


@MODELS.register_module()
class DynamicLinear(DynamicMixin, nn.Linear):
    """``nn.Linear`` whose active part is ``weight[:out_active, :in_active]``.

    Runs on :func:`razor_ext.ops.dynamic_linear` (a GEMM on the weight sub-block view; the full
    weight's gradient is zero outside it). Active input features are the input's last dim; a
    registered ``in_features`` mutable is checked against it and fixes the static op's width.

    Shapes: ``(..., in_active)`` -> ``(..., out_active)``.

    Example:
        >>> from razor_ext.supernet.mutables import OneShotMutableChannel
        >>> fc = DynamicLinear(16, 32)
        >>> _ = fc.register_mutable_attr('out_features', OneShotMutableChannel(32, [8, 32]))
        >>> fc.get_mutable_attr('out_features').current_choice = 8
        >>> fc(torch.randn(2, 12)).shape
        torch.Size([2, 8])
    """

    accepted_mutable_attrs = ('in_features', 'out_features')

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_dynamic()

    def _check_attr_choice(self, attr: str, choice: Any) -> None:
        full = self.in_features if attr == 'in_features' else self.out_features
        if not isinstance(choice, int) or not 1 <= choice <= full:
            raise ValueError(f'DynamicLinear.{attr}: choice {choice!r} must be an int in [1, {full}]')

    def forward(self, x: Tensor) -> Tensor:
        cin = self.active('in_features', x.shape[-1])
        if cin != x.shape[-1]:
            raise ValueError(f'DynamicLinear: in_features mutable chose {cin} but the input has '
                             f'{x.shape[-1]} features')
        return ops.dynamic_linear(x, self.weight, self.bias, self.active('out_features', self.out_features))

    def count_active_params(self, x: Tensor) -> int:
        cout = self.active('out_features', self.out_features)
        return cout * x.shape[-1] + (cout if self.bias is not None else 0)

    def to_static_op(self) -> nn.Linear:
        """A plain ``nn.Linear`` holding a copy of the active weights."""
        cin = self.active('in_features', self.in_features)
        cout = self.active('out_features', self.out_features)
        static = nn.Linear(cin, cout, self.bias is not None, device=self.weight.device,
                           dtype=self.weight.dtype)
        with torch.no_grad():
            static.weight.copy_(self.weight[:cout, :cin])
            if self.bias is not None:
                static.bias.copy_(self.bias[:cout])
        return static
