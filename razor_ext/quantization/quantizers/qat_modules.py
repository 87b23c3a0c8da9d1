"""Conv and linear modules whose weight passes through a fake quant (torch.ao.nn.qat's pattern)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.quantization.fake_quantize import FakeQuantize

__all__ = ['QConv1d', 'QConv2d', 'QConv3d', 'QLinear', 'WEIGHT_QUANT_TYPES', 'to_weight_quantized']


class _WeightQuant:
    weight_fake_quant: FakeQuantize
    weight: nn.Parameter

    def quantized_weight(self) -> Tensor:
        return self.weight_fake_quant(self.weight)


class QConv1d(_WeightQuant, nn.Conv1d):
    """``nn.Conv1d`` with ``weight_fake_quant`` applied to its weight in ``forward``."""

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.quantized_weight(), self.bias)


class QConv2d(_WeightQuant, nn.Conv2d):
    """``nn.Conv2d`` with ``weight_fake_quant`` applied to its weight in ``forward``."""

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.quantized_weight(), self.bias)


class QConv3d(_WeightQuant, nn.Conv3d):
    """``nn.Conv3d`` with ``weight_fake_quant`` applied to its weight in ``forward``."""

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.quantized_weight(), self.bias)


class QLinear(_WeightQuant, nn.Linear):
    """``nn.Linear`` with ``weight_fake_quant`` applied to its weight in ``forward``."""

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.quantized_weight(), self.bias)


WEIGHT_QUANT_TYPES: dict[type, type] = {nn.Conv1d: QConv1d, nn.Conv2d: QConv2d, nn.Conv3d: QConv3d,
                                        nn.Linear: QLinear}


def to_weight_quantized(module: nn.Module, weight_fake_quant: FakeQuantize) -> nn.Module:
    """A ``Q*`` module sharing ``module``'s parameters, with ``weight_fake_quant`` attached.

    Example:
        >>> import torch
        >>> q = to_weight_quantized(nn.Linear(3, 2), FakeQuantize(quant_min=-8, quant_max=7,
        ...                                                      symmetric=True))
        >>> type(q).__name__, q(torch.randn(1, 3)).shape
        ('QLinear', torch.Size([1, 2]))
    """
    qcls = WEIGHT_QUANT_TYPES[type(module)]
    new = qcls.__new__(qcls)
    new.__dict__ = {**module.__dict__, '_parameters': dict(module._parameters),
                    '_buffers': dict(module._buffers), '_modules': dict(module._modules)}
    new.weight_fake_quant = weight_fake_quant
    return new
