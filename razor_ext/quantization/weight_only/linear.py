"""``WeightOnlyQuantLinear``: a linear layer holding packed int4 / int8 weights, group-wise scales
and zero points, computed by ``razor_ext.ops.weight_only_linear``."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from razor_ext.ops import weight_only_linear
from razor_ext.ops.weight_only_pack import dequantize_weight, pack_weight
from razor_ext.registry import MODELS


@MODELS.register_module()
class WeightOnlyQuantLinear(nn.Module):
    """``y = x W^T + b`` with ``W`` stored as ``bits``-bit codes (``uint8`` buffers).

    Buffers: ``packed_weight`` ``[out, ceil(in / 2)]`` (4 bits) or ``[out, in]`` (8 bits),
    ``scales`` float32 ``[out, G]``, ``zeros`` uint8 ``[out, G]``; ``bias`` stays a float
    parameter. On the CPU the kernel dequantises in registers; elsewhere (no kernel yet) the weight
    is dequantised per call.

    Example:
        >>> layer = WeightOnlyQuantLinear.from_codes(torch.randint(0, 16, (8, 64)),
        ...     torch.rand(8, 2), torch.full((8, 2), 8.0), bits=4, group_size=32)
        >>> layer(torch.randn(2, 64)).shape
        torch.Size([2, 8])
    """

    def __init__(self, in_features: int, out_features: int, bits: int = 4, group_size: int = 128,
                 bias: bool = True, device: torch.device | None = None) -> None:
        super().__init__()
        if bits not in (4, 8):
            raise ValueError(f"WeightOnlyQuantLinear: bits must be 4 or 8, got {bits}")
        group_size = in_features if group_size <= 0 else group_size
        self.in_features, self.out_features = in_features, out_features
        self.bits, self.group_size = bits, group_size
        groups = (in_features + group_size - 1) // group_size
        row_bytes = (in_features + 1) // 2 if bits == 4 else in_features
        self.register_buffer("packed_weight", torch.zeros(out_features, row_bytes, dtype=torch.uint8, device=device))
        self.register_buffer("scales", torch.ones(out_features, groups, device=device))
        self.register_buffer("zeros", torch.zeros(out_features, groups, dtype=torch.uint8, device=device))
        self.bias = nn.Parameter(torch.zeros(out_features, device=device)) if bias else None

    @classmethod
    def from_codes(cls, codes: Tensor, scales: Tensor, zeros: Tensor, bits: int, group_size: int,
                   bias: Tensor | None = None) -> "WeightOnlyQuantLinear":
        """Build from integer ``codes`` ``[out, in]``, ``scales`` and ``zeros`` ``[out, G]``."""
        out_features, in_features = codes.shape
        layer = cls(in_features, out_features, bits, group_size, bias is not None, device=codes.device)
        layer.packed_weight.copy_(pack_weight(codes, bits))
        layer.scales.copy_(scales.to(torch.float32))
        layer.zeros.copy_(torch.round(zeros).to(torch.uint8))
        if bias is not None:
            layer.bias.data.copy_(bias.detach().to(torch.float32))
        return layer

    def dequantized_weight(self) -> Tensor:
        """The float32 weight ``[out, in]`` the codes stand for."""
        return dequantize_weight(self.packed_weight, self.scales, self.zeros, self.group_size,
                                 self.bits, self.in_features)

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type == "cpu":
            y = weight_only_linear(x, self.packed_weight, self.scales, self.zeros,
                                   self.group_size, self.bits)
        else:
            y = nn.functional.linear(x, self.dequantized_weight().to(x.dtype))
        return y if self.bias is None else y + self.bias.to(y.dtype)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bits={self.bits}, group_size={self.group_size}, bias={self.bias is not None}")
