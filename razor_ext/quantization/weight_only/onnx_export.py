"""Export of :class:`WeightOnlyQuantLinear` layers as onnxruntime's ``com.microsoft.MatMulNBits``
(4-bit weights, ``block_size = group_size``), verified in onnxruntime against PyTorch."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from razor_ext.export import to_onnx
from razor_ext.hessian import set_module
from razor_ext.ops.weight_only_pack import dequantize_weight
from razor_ext.quantization.weight_only.linear import WeightOnlyQuantLinear


class _MatMulNBits(torch.autograd.Function):
    """``x @ W^T`` from MatMulNBits' tensors in PyTorch; one ``MatMulNBits`` node in ONNX."""

    @staticmethod
    def forward(ctx, x: Tensor, b: Tensor, scales: Tensor, zero_points: Tensor, k: int,
                block_size: int) -> Tensor:
        n, blocks, _ = b.shape
        zp = torch.stack((zero_points & 0x0F, zero_points >> 4), -1).reshape(n, -1)[:, :blocks]
        w = dequantize_weight(b.reshape(n, -1), scales.reshape(n, blocks), zp, block_size, 4, k)
        return nn.functional.linear(x, w.to(x.dtype))

    @staticmethod
    def symbolic(g, x, b, scales, zero_points, k: int, block_size: int):
        n = b.type().sizes()[0]
        return g.op("com.microsoft::MatMulNBits", x, b, scales, zero_points, K_i=k, N_i=n, bits_i=4,
                    block_size_i=block_size)


class MatMulNBitsLinear(nn.Module):
    """A :class:`WeightOnlyQuantLinear` (4 bits) in MatMulNBits' tensor layout, for export.

    ``B`` uint8 ``[N, n_blocks, block_size / 2]`` (each row's packed codes, zero-padded to whole
    blocks), ``scales`` ``[N * n_blocks]``, ``zero_points`` uint8 ``[N * ceil(n_blocks / 2)]``
    (two 4-bit zero points a byte, low nibble first).

    Example:
        >>> layer = WeightOnlyQuantLinear(64, 8, bits=4, group_size=32)
        >>> MatMulNBitsLinear(layer).B.shape
        torch.Size([8, 2, 16])
    """

    def __init__(self, layer: WeightOnlyQuantLinear) -> None:
        super().__init__()
        bs, k, n = layer.group_size, layer.in_features, layer.out_features
        if layer.bits != 4:
            raise ValueError("MatMulNBits export supports 4-bit layers only")
        if bs < 16 or bs & (bs - 1):
            raise ValueError(f"MatMulNBits needs a power-of-two group_size >= 16, got {bs}")
        blocks = (k + bs - 1) // bs
        packed = torch.zeros(n, blocks * bs // 2, dtype=torch.uint8)
        packed[:, :layer.packed_weight.shape[1]] = layer.packed_weight.cpu()
        zeros = layer.zeros.cpu().to(torch.int32)
        if blocks % 2:
            zeros = nn.functional.pad(zeros, (0, 1))
        self.k, self.block_size = k, bs
        self.register_buffer("B", packed.reshape(n, blocks, bs // 2))
        self.register_buffer("scales", layer.scales.detach().cpu().reshape(-1).clone())
        self.register_buffer("zero_points", (zeros[:, 0::2] | (zeros[:, 1::2] << 4)).to(torch.uint8).reshape(-1))
        self.bias = None if layer.bias is None else nn.Parameter(layer.bias.detach().cpu().clone())

    def forward(self, x: Tensor) -> Tensor:
        y = _MatMulNBits.apply(x, self.B, self.scales, self.zero_points, self.k, self.block_size)
        return y if self.bias is None else y + self.bias


def export_matmulnbits(model: nn.Module, example_inputs: Tensor | Sequence[Tensor],
                       path: str | os.PathLike[str], verify: bool = True, *, opset: int = 17,
                       rtol: float = 1e-3, atol: float = 1e-4) -> Path:
    """Export a GPTQ / RTN model (4 bits) to ONNX with ``MatMulNBits`` nodes and check the file
    in onnxruntime against PyTorch (``razor_ext.export.to_onnx``). ``model`` is left as it was.

    Example:
        >>> import tempfile, pathlib
        >>> from razor_ext.quantization import gptq
        >>> m = gptq(nn.Sequential(nn.Linear(64, 16), nn.ReLU()), method='rtn', group_size=32)
        >>> export_matmulnbits(m, torch.randn(2, 64), pathlib.Path(tempfile.mkdtemp()) / 'q.onnx').suffix
        '.onnx'
    """
    swapped = {name: m for name, m in model.named_modules() if isinstance(m, WeightOnlyQuantLinear)}
    if not swapped:
        raise TypeError("export_matmulnbits: the model holds no WeightOnlyQuantLinear; run gptq() first")
    try:
        for name, layer in swapped.items():
            set_module(model, name, MatMulNBitsLinear(layer))
        return to_onnx(model, example_inputs, path, verify, opset=opset, rtol=rtol, atol=atol)
    finally:
        for name, layer in swapped.items():
            set_module(model, name, layer)
