"""Min/max observers (MMRazor/torch.ao names): running and moving-average, per tensor or channel."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from razor_ext.quantization.observers.base import BaseObserver
from razor_ext.registry import MODELS

__all__ = ['MinMaxObserver', 'MovingAverageMinMaxObserver', 'PerChannelMinMaxObserver',
           'MovingAveragePerChannelMinMaxObserver']


@MODELS.register_module()
class MinMaxObserver(BaseObserver):
    """Running min and max over everything observed.

    Example:
        >>> obs = MinMaxObserver(quant_min=-128, quant_max=127, symmetric=True)
        >>> _ = obs(torch.tensor([-2.0, 1.0])); _ = obs(torch.tensor([0.5, 2.54]))
        >>> s, z = obs.calculate_qparams(); round(s.item(), 5), z.item()
        (0.01992, 0)
    """

    def forward(self, x: Tensor) -> Tensor:
        lo, hi = self._batch_range(x)
        if not self.observed or self.min_val.shape != lo.shape:
            self.min_val, self.max_val = lo.float().clone(), hi.float().clone()
        else:
            self.min_val = torch.minimum(self.min_val, lo.float())
            self.max_val = torch.maximum(self.max_val, hi.float())
        return x


@MODELS.register_module()
class MovingAverageMinMaxObserver(BaseObserver):
    """Exponential moving average of each batch's min and max (the first batch is taken as is).

    Args:
        averaging_constant: weight of the new batch, ``m <- m + c * (batch - m)``.

    Example:
        >>> obs = MovingAverageMinMaxObserver(averaging_constant=0.5)
        >>> _ = obs(torch.tensor([0.0, 2.0])); _ = obs(torch.tensor([0.0, 4.0]))
        >>> obs.max_val.item()
        3.0
    """

    def __init__(self, *args: Any, averaging_constant: float = 0.01, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not 0.0 < averaging_constant <= 1.0:
            raise ValueError(f'averaging_constant must be in (0, 1], got {averaging_constant}')
        self.averaging_constant = float(averaging_constant)

    def forward(self, x: Tensor) -> Tensor:
        lo, hi = self._batch_range(x)
        if not self.observed or self.min_val.shape != lo.shape:
            self.min_val, self.max_val = lo.float().clone(), hi.float().clone()
        else:
            c = self.averaging_constant
            self.min_val = self.min_val + c * (lo.float() - self.min_val)
            self.max_val = self.max_val + c * (hi.float() - self.max_val)
        return x


@MODELS.register_module()
class PerChannelMinMaxObserver(MinMaxObserver):
    """:class:`MinMaxObserver` per channel along ``ch_axis`` (default 0, a weight's out channels).

    Example:
        >>> obs = PerChannelMinMaxObserver(quant_min=-8, quant_max=7, symmetric=True)
        >>> _ = obs(torch.tensor([[1.0, -4.0], [0.5, 0.25]]))
        >>> obs.calculate_qparams()[0].tolist()
        [0.5333333611488342, 0.06666667014360428]
    """

    def __init__(self, *args: Any, ch_axis: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, ch_axis=ch_axis, **kwargs)


@MODELS.register_module()
class MovingAveragePerChannelMinMaxObserver(MovingAverageMinMaxObserver):
    """:class:`MovingAverageMinMaxObserver` per channel along ``ch_axis`` (default 0).

    Example:
        >>> obs = MovingAveragePerChannelMinMaxObserver(averaging_constant=0.5)
        >>> _ = obs(torch.tensor([[2.0], [4.0]])); _ = obs(torch.tensor([[4.0], [4.0]]))
        >>> obs.max_val.tolist()
        [3.0, 4.0]
    """

    def __init__(self, *args: Any, ch_axis: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, ch_axis=ch_axis, **kwargs)
