"""The two distillation reductions that have fused kernels: every loss goes through these.

``kd_kl_div`` and ``cwd_loss`` are the only places where the losses reach the temperature-KL and
channel-wise-distillation formulas; both run on the fused kernels of ``razor_ext.ops`` (one
pass per row, online log-sum-exp, gradient computed in the forward pass).
"""
from __future__ import annotations

import torch
from torch import Tensor

from razor_ext import ops

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
    return ops.kd_kl_div(student, teacher, float(tau), reduction)


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
    return ops.cwd_loss(student, teacher, float(tau))
