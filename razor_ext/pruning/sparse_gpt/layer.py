"""SparseGPT on one weight matrix (Frantar & Alistarh, 2023, arXiv:2301.00774): choose the mask
by the OBS saliency ``w^2 / [H^-1]_cc^2`` per block of columns (or per group of M columns for N:M),
zero the masked weights one column at a time and push the error onto the columns not yet
visited, through the same inverse-Hessian Cholesky rows GPTQ uses."""
from __future__ import annotations

import torch
from torch import Tensor

from razor_ext.hessian import damped_inverse_cholesky


def parse_pattern(pattern: str | None) -> tuple[int, int]:
    """``'2:4'`` -> ``(2, 4)``: keep N of every M consecutive input columns; ``None`` -> ``(0, 0)``.

    Example:
        >>> parse_pattern('4:8')
        (4, 8)
    """
    if pattern is None:
        return 0, 0
    try:
        n, m = (int(v) for v in str(pattern).split(":"))
    except ValueError:
        raise ValueError(f"pattern must be None or 'N:M' such as '2:4', got {pattern!r}") from None
    if not 0 < n < m:
        raise ValueError(f"pattern 'N:M' needs 0 < N < M, got {pattern!r}")
    return n, m


def sparse_gpt_prune(w: Tensor, hessian: Tensor, sparsity: float = 0.5, pattern: str | None = None,
                     percdamp: float = 0.01, blocksize: int = 128) -> Tensor:
    """The SparseGPT-pruned ``w`` ``[rows, cols]`` (float32, zeros where pruned).

    Unstructured: in each block of ``blocksize`` columns, the ``sparsity`` fraction of weights of
    least saliency is pruned. ``pattern='N:M'``: in every M consecutive columns of each row the
    ``M - N`` of least saliency are pruned (``sparsity`` is then ``1 - N/M``).

    Example:
        >>> w, x = torch.randn(8, 64), torch.randn(256, 64)
        >>> p = sparse_gpt_prune(w, 2 * x.t() @ x / 256, pattern='2:4')
        >>> int((p.reshape(8, 16, 4) != 0).sum(-1).max())
        2
    """
    keep_n, group_m = parse_pattern(pattern)
    if pattern is None and not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    if blocksize <= 0 or (group_m and blocksize % group_m):
        raise ValueError(f"blocksize must be a positive multiple of M, got {blocksize}")
    prune_n = group_m - keep_n
    w = w.to(torch.float32).clone()
    rows, cols = w.shape
    hinv, dead = damped_inverse_cholesky(hessian, percdamp)
    w[:, dead] = 0
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        count = i2 - i1
        w1 = w[:, i1:i2].clone()
        q1 = torch.zeros_like(w1)
        err1 = torch.zeros_like(w1)
        hinv1 = hinv[i1:i2, i1:i2]
        d = torch.diagonal(hinv1)
        if group_m == 0:
            saliency = w1 ** 2 / d[None, :] ** 2
            k = int(saliency.numel() * sparsity)
            mask1 = torch.zeros_like(w1, dtype=torch.bool)
            if k > 0:
                flat = saliency.flatten()
                mask1.view(-1)[torch.topk(flat, k, largest=False).indices] = True
        else:
            mask1 = torch.zeros_like(w1, dtype=torch.bool)
        for i in range(count):
            wc = w1[:, i]
            if group_m and i % group_m == 0 and i + group_m <= count:
                sal = w1[:, i:i + group_m] ** 2 / d[i:i + group_m][None, :] ** 2
                mask1.scatter_(1, i + torch.topk(sal, prune_n, dim=1, largest=False).indices, True)
            q = torch.where(mask1[:, i], torch.zeros_like(wc), wc)
            q1[:, i] = q
            err = (wc - q) / hinv1[i, i]
            w1[:, i:] -= err[:, None] @ hinv1[i, i:][None, :]
            err1[:, i] = err
        w[:, i1:i2] = q1
        w[:, i2:] -= err1 @ hinv[i1:i2, i2:]
    return w


def magnitude_prune(w: Tensor, sparsity: float = 0.5, pattern: str | None = None) -> Tensor:
    """The magnitude baseline: zero the smallest ``|w|`` of the layer (unstructured) or of every
    M consecutive columns of each row (``'N:M'``), with no error compensation.

    Example:
        >>> magnitude_prune(torch.tensor([[1.0, -3.0, 0.5, 2.0]]), pattern='2:4')
        tensor([[ 0., -3.,  0.,  2.]])
    """
    keep_n, group_m = parse_pattern(pattern)
    w = w.to(torch.float32).clone()
    rows, cols = w.shape
    if group_m:
        full = cols // group_m * group_m
        blocks = w[:, :full].reshape(rows, -1, group_m)
        idx = torch.topk(blocks.abs(), group_m - keep_n, dim=-1, largest=False).indices
        blocks.scatter_(-1, idx, 0.0)
        w[:, :full] = blocks.reshape(rows, full)
        return w
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    k = int(w.numel() * sparsity)
    if k > 0:
        w.view(-1)[torch.topk(w.abs().flatten(), k, largest=False).indices] = 0.0
    return w
