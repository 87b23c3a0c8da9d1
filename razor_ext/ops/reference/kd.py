"""References of the KD op family: ``kd_kl_div``, ``cwd_loss`` and ``dkd_loss``, in eager PyTorch."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def kd_kl_div(student: Tensor, teacher: Tensor, tau: float = 1.0,
              reduction: str = "batchmean") -> Tensor:
    """``F.kl_div(log_softmax(s / tau), softmax(t / tau), reduction) * tau**2``; ``'none'`` gives
    one value per row (the elementwise terms summed over the last dim)."""
    log_q = F.log_softmax(student / tau, dim=-1)
    p = F.softmax(teacher / tau, dim=-1)
    if reduction == "none":
        return F.kl_div(log_q, p, reduction="none").sum(-1) * tau**2
    return F.kl_div(log_q, p, reduction=reduction) * tau**2


def cwd_loss(student: Tensor, teacher: Tensor, tau: float = 1.0) -> Tensor:
    """Channel-wise distillation as MMRazor's ChannelWiseDivergence formula states it:
    sum over (n, c) of p * (log p - log q) over H*W, times tau**2 / (N * C)."""
    n, c, h, w = student.shape
    t = teacher.reshape(-1, h * w) / tau
    s = student.reshape(-1, h * w) / tau
    p = F.softmax(t, dim=1)
    return torch.sum(p * F.log_softmax(t, dim=1) - p * F.log_softmax(s, dim=1)) * tau**2 / (n * c)


def dkd_loss(student: Tensor, teacher: Tensor, target: Tensor, alpha: float = 1.0,
             beta: float = 1.0, tau: float = 1.0, reduction: str = "batchmean") -> Tensor:
    """Decoupled KD from its definition: binary KL of the target-class probabilities (TCKD) plus
    KL of the softmaxes over the non-target classes (NCKD, target column dropped)."""
    classes = student.shape[-1]
    s = student.reshape(-1, classes) / tau
    t = teacher.reshape(-1, classes) / tau
    rows = s.shape[0]
    is_target = F.one_hot(target.reshape(-1).long(), classes).bool()
    p_t = F.softmax(t, dim=1)[is_target]
    p_s = F.softmax(s, dim=1)[is_target]
    binary_t = torch.stack([p_t, 1 - p_t], dim=1)
    binary_s = torch.stack([p_s, 1 - p_s], dim=1)
    tckd = F.kl_div(binary_s.log(), binary_t, reduction="none").sum(1)
    s_rest = s[~is_target].reshape(rows, classes - 1)
    t_rest = t[~is_target].reshape(rows, classes - 1)
    nckd = F.kl_div(F.log_softmax(s_rest, 1), F.softmax(t_rest, 1), reduction="none").sum(1)
    scale = tau**2
    if reduction == "none":
        return (alpha * tckd + beta * nckd).reshape(student.shape[:-1]) * scale
    if reduction == "sum":
        return (alpha * tckd.sum() + beta * nckd.sum()) * scale
    if reduction == "mean":
        return (alpha * tckd.sum() / (2 * rows) + beta * nckd.sum() / student.numel()) * scale
    return (alpha * tckd.sum() + beta * nckd.sum()) / student.shape[0] * scale
