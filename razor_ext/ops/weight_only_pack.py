"""Packing of weight-only quantized codes (the layout of ``razor_ext.ops.weight_only_linear`` and
of onnxruntime's ``MatMulNBits``), and their dequantisation in plain PyTorch.

4 bits: ``uint8 [N, ceil(K / 2)]``, element ``k`` of row ``n`` in byte ``k // 2``, the low nibble
for even ``k``. 8 bits: ``uint8 [N, K]``. Codes ``q`` are unsigned in ``[0, 2**bits - 1]`` and the
weight is ``(q - zeros[n, k // group_size]) * scales[n, k // group_size]``.
"""
from __future__ import annotations

import torch
from torch import Tensor


def pack_weight(q: Tensor, bits: int) -> Tensor:
    """Pack integer codes ``q`` ``[N, K]`` (values in ``[0, 2**bits - 1]``) into ``uint8``.

    Returns ``[N, ceil(K / 2)]`` for 4 bits, ``[N, K]`` for 8 bits.

    Example:
        >>> pack_weight(torch.tensor([[1, 2, 3]]), 4)
        tensor([[33,  3]], dtype=torch.uint8)
    """
    if bits not in (4, 8):
        raise ValueError(f"pack_weight: bits must be 4 or 8, got {bits}")
    if q.dim() != 2:
        raise ValueError(f"pack_weight: q must be 2-D [N, K], got shape {tuple(q.shape)}")
    q = q.to(torch.int32)
    if q.numel() and (int(q.min()) < 0 or int(q.max()) > 2 ** bits - 1):
        raise ValueError(f"pack_weight: codes must lie in [0, {2 ** bits - 1}]")
    if bits == 8:
        return q.to(torch.uint8).contiguous()
    if q.shape[1] % 2:
        q = torch.nn.functional.pad(q, (0, 1))
    return (q[:, 0::2] | (q[:, 1::2] << 4)).to(torch.uint8).contiguous()


def unpack_weight(packed: Tensor, k: int, bits: int) -> Tensor:
    """The integer codes ``[N, k]`` (int32) held in ``packed`` (inverse of :func:`pack_weight`).

    Example:
        >>> unpack_weight(torch.tensor([[33, 3]], dtype=torch.uint8), 3, 4)
        tensor([[1, 2, 3]], dtype=torch.int32)
    """
    p = packed.to(torch.int32)
    if bits == 8:
        return p[:, :k]
    return torch.stack((p & 0x0F, p >> 4), dim=-1).reshape(p.shape[0], -1)[:, :k]


def dequantize_weight(packed: Tensor, scales: Tensor, zeros: Tensor, group_size: int, bits: int,
                      k: int) -> Tensor:
    """The float32 weight ``[N, k]``: ``(q - zeros[:, g]) * scales[:, g]``, ``g = col // group_size``.

    Example:
        >>> packed = pack_weight(torch.tensor([[9, 7]]), 4)
        >>> dequantize_weight(packed, torch.tensor([[0.5]]), torch.tensor([[8]], dtype=torch.uint8), 2, 4, 2)
        tensor([[ 0.5000, -0.5000]])
    """
    q = unpack_weight(packed, k, bits).to(torch.float32)
    cols = torch.arange(k, device=packed.device) // group_size
    return (q - zeros.to(torch.float32)[:, cols]) * scales.to(torch.float32)[:, cols]
