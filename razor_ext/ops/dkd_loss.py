"""``dkd_loss``: decoupled knowledge distillation (Zhao et al., CVPR 2022, arXiv:2203.08679)."""
from __future__ import annotations

import torch
from torch import Tensor

from razor_ext.ops.arguments import float32_under_autocast
from razor_ext.ops.below_autograd import call_op
from razor_ext.ops.kd_autograd import (as_float, check_fake_logits, check_logits, check_reduction,
                                       fake_outputs, grads_wanted,
                                       register_kd_autograd)


def dkd_loss(student: Tensor, teacher: Tensor, target: Tensor, alpha: float = 1.0,
             beta: float = 1.0, tau: float = 1.0, reduction: str = "batchmean") -> Tensor:
    """``tau**2 * (alpha * TCKD + beta * NCKD)``, as MMRazor's ``DKDLoss`` (without ``loss_weight``),
    on the fused KD kernel: one pass per row gives both terms and their gradients.

    - TCKD: KL between the binary distributions (P(target), 1 - P(target)) of the teacher and the
      student, P from ``softmax(logits / tau)``; computed from the target logit against the
      log-sum-exp of the others, so it stays finite where ``log(P)`` would underflow.
    - NCKD: KL between teacher and student softmaxes over the non-target classes. The target class
      is excluded exactly (MMRazor subtracts 1000 from its logit / tau, which is the same unless
      |logits / tau| nears 1000).

    Args:
        student, teacher: ``(..., C)`` logits (float32 / float64; CUDA also bf16 / fp16).
        target: class indices of shape ``student.shape[:-1]`` (any integer dtype; a tensor with as
            many elements, e.g. MMRazor's flattened labels, is reshaped).
        alpha, beta: weights of TCKD and NCKD.
        tau: temperature, > 0.
        reduction: ``'batchmean'`` (both terms / ``student.shape[0]``), ``'sum'``, ``'mean'``
            (MMRazor's: TCKD / (2 * rows), NCKD / numel), or ``'none'`` (per row).

    Returns:
        A 0-dim tensor, or ``student.shape[:-1]`` for ``'none'``.

    Example:
        >>> s = torch.randn(8, 10, requires_grad=True)
        >>> dkd_loss(s, torch.randn(8, 10), torch.randint(10, (8,)), beta=8.0, tau=4.0).backward()
    """
    op = "dkd_loss"
    check_logits(op, student, teacher)
    student, teacher = float32_under_autocast(student, teacher)
    if not isinstance(target, Tensor):
        raise TypeError(f"{op}: target must be a torch.Tensor of class indices, got {type(target).__name__}")
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {target.dtype}")
    alpha = as_float(op, "alpha", alpha)
    beta = as_float(op, "beta", beta)
    tau = as_float(op, "tau", tau, positive=True)
    reduction = check_reduction(op, reduction)
    row_shape = student.shape[:-1]
    if student.dim() >= 1 and target.shape != row_shape and target.numel() == row_shape.numel():
        target = target.reshape(row_shape)
    grad_s, grad_t = grads_wanted(student, teacher)
    return call_op(torch.ops.razor_ext.dkd_loss, student, teacher, target.long(), alpha, beta, tau,
                   reduction, grad_s, grad_t)[0]


@torch.library.register_fake("razor_ext::dkd_loss")
def _dkd_loss_fake(student: Tensor, teacher: Tensor, target: Tensor, alpha: float, beta: float,
                   tau: float, reduction: str, grad_student: bool, grad_teacher: bool):
    check_fake_logits("dkd_loss", student, teacher, tau, reduction)
    torch._check_value(target.shape == student.shape[:-1],
                       lambda: f"dkd_loss: target has shape {tuple(target.shape)} but must be "
                       f"student's shape without its last dim, {tuple(student.shape[:-1])}")
    return fake_outputs(student, reduction, grad_student, grad_teacher)


register_kd_autograd("razor_ext::dkd_loss", num_inputs=9, reduction_at=6)
