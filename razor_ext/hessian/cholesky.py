"""The damped inverse Hessian in the upper Cholesky form GPTQ and SparseGPT read row by row."""
from __future__ import annotations

import torch
from torch import Tensor


def damped_inverse_cholesky(hessian: Tensor, percdamp: float = 0.01) -> tuple[Tensor, Tensor]:
    """``(U, dead)``: ``U`` upper triangular with ``U^T U = (H + damp I)^-1``, and the columns
    whose Hessian diagonal was zero (inputs that never fired; their weights carry no error).

    ``damp = percdamp * mean(diag(H))``; dead columns get a unit diagonal first, as in the GPTQ
    reference, so the factorisation exists. ``hessian`` ``[C, C]`` is not modified.

    Example:
        >>> u, dead = damped_inverse_cholesky(torch.eye(3) * 4, percdamp=0.0)
        >>> torch.diag(u), dead.any()
        (tensor([0.5000, 0.5000, 0.5000]), tensor(False))
    """
    if not 0.0 <= percdamp:
        raise ValueError(f"percdamp must be >= 0, got {percdamp}")
    h = hessian.to(torch.float32).clone()
    diag = torch.diagonal(h)
    dead = diag == 0
    diag[dead] = 1.0
    damp = percdamp * torch.mean(diag)
    diag += damp
    factor = torch.linalg.cholesky(h)
    inverse = torch.cholesky_inverse(factor)
    return torch.linalg.cholesky(inverse, upper=True), dead
