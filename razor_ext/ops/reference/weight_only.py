"""Reference of ``weight_only_linear``: dequantise the whole weight, then ``F.linear`` in float32."""
from __future__ import annotations

import torch
from torch import Tensor

from razor_ext.ops.weight_only_pack import dequantize_weight


def weight_only_linear(x: Tensor, packed_weight: Tensor, scales: Tensor, zeros: Tensor,
                       group_size: int, bits: int = 4) -> Tensor:
    """``F.linear(x, dequantize_weight(...))`` computed in float32, returned in ``x.dtype``."""
    w = dequantize_weight(packed_weight, scales, zeros, group_size, bits, x.shape[-1])
    return torch.nn.functional.linear(x.to(torch.float32), w).to(x.dtype)
