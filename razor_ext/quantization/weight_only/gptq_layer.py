"""GPTQ on one weight matrix (Frantar et al., 2022, arXiv:2210.17323): quantize columns one at a
time and push each column's rounding error onto the columns not yet quantized, weighted by the
inverse Hessian's Cholesky rows, in blocks of ``blocksize`` columns (lazy batch updates)."""
from __future__ import annotations

import torch
from torch import Tensor

from razor_ext.hessian import damped_inverse_cholesky
from razor_ext.quantization.weight_only.group_quant import group_params, quantize_codes


def gptq_quantize(w: Tensor, hessian: Tensor, bits: int = 4, group_size: int = 128, sym: bool = True,
                  act_order: bool = False, percdamp: float = 0.01,
                  blocksize: int = 128) -> tuple[Tensor, Tensor, Tensor]:
    """GPTQ codes for ``w`` ``[rows, cols]`` given the input Hessian ``[cols, cols]``.

    Groups are contiguous columns (what the packed kernel reads). Without ``act_order`` each
    group's scale and zero are found when GPTQ reaches it, on the error-updated weights; with
    ``act_order`` columns are visited by decreasing Hessian diagonal and the groups' parameters
    are fixed beforehand from the float weights ("static groups"), so the layout stays contiguous.

    Returns:
        ``(codes int32 [rows, cols], scales [rows, G], zeros [rows, G])`` (float32 scales / zeros).

    Example:
        >>> w, x = torch.randn(4, 64), torch.randn(256, 64)
        >>> q, s, z = gptq_quantize(w, 2 * x.t() @ x / 256, bits=4, group_size=32)
        >>> q.shape, s.shape
        (torch.Size([4, 64]), torch.Size([4, 2]))
    """
    if bits not in (4, 8):
        raise ValueError(f"gptq: bits must be 4 or 8, got {bits}")
    if blocksize <= 0:
        raise ValueError(f"gptq: blocksize must be positive, got {blocksize}")
    w = w.to(torch.float32).clone()
    rows, cols = w.shape
    gs = cols if group_size <= 0 else group_size
    groups = (cols + gs - 1) // gs
    hinv, dead = damped_inverse_cholesky(hessian, percdamp)
    w[:, dead] = 0
    scales = torch.zeros(rows, groups, device=w.device)
    zeros = torch.zeros(rows, groups, device=w.device)
    perm = torch.arange(cols, device=w.device)
    if act_order:
        perm = torch.argsort(torch.diagonal(hessian), descending=True)
        for g in range(groups):
            scales[:, g], zeros[:, g] = group_params(w[:, g * gs:(g + 1) * gs], bits, sym)
        w = w[:, perm]
        h = hessian.to(torch.float32)[perm][:, perm].clone()
        hinv, _ = damped_inverse_cholesky(h, percdamp)
    group_of = perm // gs  # the group of the column at each visiting position
    codes = torch.zeros(rows, cols, dtype=torch.int32, device=w.device)
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        w1 = w[:, i1:i2].clone()
        err1 = torch.zeros_like(w1)
        hinv1 = hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = i1 + i
            g = int(group_of[col])
            if not act_order and col % gs == 0:
                # The group's range from the columns as GPTQ has updated them so far.
                end = min(col + gs, cols)
                w_group = (w1[:, i:end - i1] if end <= i2
                           else torch.cat((w1[:, i:], w[:, i2:end]), 1))
                scales[:, g], zeros[:, g] = group_params(w_group, bits, sym)
            s, z = scales[:, g], zeros[:, g]
            wc = w1[:, i]
            q = quantize_codes(wc, s, z, bits)
            codes[:, col] = q.to(torch.int32)
            err = (wc - (q - z) * s) / hinv1[i, i]
            w1[:, i:] -= err[:, None] @ hinv1[i, i:][None, :]
            err1[:, i] = err
        w[:, i2:] -= err1 @ hinv[i1:i2, i2:]
    if act_order:
        codes = codes[:, torch.argsort(perm)]
    return codes, scales, zeros
