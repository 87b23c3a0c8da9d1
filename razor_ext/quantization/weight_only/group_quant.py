"""Group-wise min-max integer quantization of weight rows: the scales and zero points GPTQ and
round-to-nearest use (GPTQ's ``Quantizer``, MMRazor's ``GPTQMixIn``), as unsigned codes."""
from __future__ import annotations

import torch
from torch import Tensor


def group_params(w: Tensor, bits: int, sym: bool) -> tuple[Tensor, Tensor]:
    """``(scale, zero)`` per row of ``w`` ``[rows, cols]``, each ``[rows]`` (zero integral, float).

    Asymmetric: the range ``[min(w, 0), max(w, 0)]`` onto ``[0, 2**bits - 1]``. Symmetric:
    ``[-max|w|, max|w|]`` with the zero point fixed at ``2**(bits-1)``. All-zero rows get the
    range ``[-1, 1]``.

    Example:
        >>> s, z = group_params(torch.tensor([[-1.0, 0.5, 2.0]]), 4, sym=False)
        >>> s, z
        (tensor([0.2000]), tensor([5.]))
    """
    maxq = 2 ** bits - 1
    zero_t = torch.zeros(w.shape[0], device=w.device, dtype=torch.float32)
    xmin = torch.minimum(w.min(1).values.float(), zero_t)
    xmax = torch.maximum(w.max(1).values.float(), zero_t)
    if sym:
        xmax = torch.maximum(xmin.abs(), xmax)
        xmin = torch.where(xmin < 0, -xmax, xmin)
    empty = (xmin == 0) & (xmax == 0)
    xmin = torch.where(empty, -1.0, xmin)
    xmax = torch.where(empty, 1.0, xmax)
    scale = (xmax - xmin) / maxq
    if sym:
        zero = torch.full_like(scale, (maxq + 1) / 2)
    else:
        zero = torch.round(-xmin / scale)
    return scale, zero


def quantize_codes(w: Tensor, scale: Tensor, zero: Tensor, bits: int) -> Tensor:
    """Integer codes ``clamp(round(w / scale) + zero, 0, 2**bits - 1)`` (float tensor), with
    ``scale`` / ``zero`` broadcasting against ``w``.

    Example:
        >>> quantize_codes(torch.tensor([0.3, -9.0]), torch.tensor(0.2), torch.tensor(5.0), 4)
        tensor([7., 0.])
    """
    return torch.clamp(torch.round(w / scale) + zero, 0, 2 ** bits - 1)


def rtn_quantize(w: Tensor, bits: int, group_size: int, sym: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Round-to-nearest: ``(codes [rows, cols] int32, scales [rows, G], zeros [rows, G])``.

    Example:
        >>> q, s, z = rtn_quantize(torch.randn(4, 64), 4, 32, sym=True)
        >>> q.shape, s.shape, bool(q.max() <= 15)
        (torch.Size([4, 64]), torch.Size([4, 2]), True)
    """
    rows, cols = w.shape
    gs = cols if group_size <= 0 else group_size
    codes = torch.empty(rows, cols, dtype=torch.int32, device=w.device)
    scales, zeros = [], []
    for g0 in range(0, cols, gs):
        block = w[:, g0:g0 + gs].float()
        s, z = group_params(block, bits, sym)
        codes[:, g0:g0 + gs] = quantize_codes(block, s[:, None], z[:, None], bits).to(torch.int32)
        scales.append(s)
        zeros.append(z)
    return codes, torch.stack(scales, 1), torch.stack(zeros, 1)
