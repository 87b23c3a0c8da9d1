"""The two distillation reductions that have fused kernels: every loss goes through these.

``kd_kl_div`` and ``cwd_loss`` are the only places in the package that spell out the
temperature-KL and channel-wise-distillation formulas, so that swapping in the fused
``razor_ext.ops`` kernels (same signatures) changes one file. Until then they are eager PyTorch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['kd_kl_div', 'cwd_loss']

_REDUCTIONS = ('batchmean', 'sum', 'mean', 'none')


def _check_pair(student: Tensor, teacher: Tensor, tau: float) -> None:
    if not isinstance(student, Tensor) or not isinstance(teacher, Tensor):
        raise TypeError(f'student and teacher must be tensors, got {type(student).__name__} '
                        f'and {type(teacher).__name__}')
    if student.shape != teacher.shape:
        raise ValueError(f'teacher must have the shape of student {tuple(student.shape)}, '
                         f'got {tuple(teacher.shape)}')
    if not isinstance(tau, (int, float)) or not tau > 0:
        raise ValueError(f'tau must be a number > 0, got {tau!r}')


def kd_kl_div(student: Tensor, teacher: Tensor, tau: float = 1.0,
              reduction: str = 'batchmean') -> Tensor:
    """Temperature KL(teacher || student) over the last dim, times ``tau**2``.

    Equals ``F.kl_div(F.log_softmax(s/tau, -1), F.softmax(t/tau, -1), reduction) * tau**2``.

    Args:
        student: logits ``(..., C)``.
        teacher: logits of the same shape (detach it yourself for a frozen teacher).
        tau: temperature, > 0.
        reduction: ``'batchmean'`` (sum / size(0)), ``'sum'``, ``'mean'`` (sum / numel) or
            ``'none'`` (one value per row: shape ``student.shape[:-1]``).

    Example:
        >>> s = torch.zeros(2, 3); kd_kl_div(s, s).item()
        0.0
    """
    _check_pair(student, teacher, tau)
    if reduction not in _REDUCTIONS:
        raise ValueError(f'reduction must be one of {_REDUCTIONS}, got {reduction!r}')
    log_q = F.log_softmax(student / tau, dim=-1)
    log_p = F.log_softmax(teacher / tau, dim=-1)
    pointwise = F.kl_div(log_q, log_p, reduction='none', log_target=True)
    scale = tau * tau
    if reduction == 'none':
        return pointwise.sum(-1) * scale
    total = pointwise.sum()
    if reduction == 'batchmean':
        return total * (scale / max(student.size(0), 1)) if student.ndim else total * scale
    if reduction == 'mean':
        return total * (scale / max(student.numel(), 1))
    return total * scale


def cwd_loss(student: Tensor, teacher: Tensor, tau: float = 1.0) -> Tensor:
    """Channel-wise distillation (Shu et al., ICCV 2021) on ``(N, C, H, W)`` maps.

    For each (n, c) the KL between the softmax over ``H*W`` of ``teacher/tau`` and of
    ``student/tau``, summed and multiplied by ``tau**2 / (N*C)``.

    Example:
        >>> x = torch.randn(2, 3, 4, 4); round(cwd_loss(x, x).item(), 6)
        0.0
    """
    _check_pair(student, teacher, tau)
    if student.ndim != 4:
        raise ValueError(f'student must be N x C x H x W, got shape {tuple(student.shape)}')
    n, c = student.shape[:2]
    rows_s = student.reshape(n * c, -1)
    rows_t = teacher.reshape(n * c, -1)
    return kd_kl_div(rows_s, rows_t, tau, reduction='sum') / max(n * c, 1)
