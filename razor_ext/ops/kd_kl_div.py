"""``kd_kl_div``: the temperature KL divergence of knowledge distillation, fused."""
from __future__ import annotations

import torch
from torch import Tensor

from razor_ext.ops.arguments import float32_under_autocast
from razor_ext.ops.below_autograd import call_op
from razor_ext.ops.kd_autograd import (as_float, check_fake_logits, check_logits, check_reduction,
                                       fake_outputs, grads_wanted,
                                       register_kd_autograd)


def kd_kl_div(student: Tensor, teacher: Tensor, tau: float = 1.0,
              reduction: str = "batchmean") -> Tensor:
    """``F.kl_div(F.log_softmax(student / tau, -1), F.softmax(teacher / tau, -1), reduction) * tau**2``
    in one pass over the logits (Hinton et al., 2015, arXiv:1503.02531).

    Classes are the last dim; every leading index is a row. Gradients flow to the student and,
    when it requires grad (online / mutual distillation), to the teacher. Forward computes them
    in the same pass, so backward is a multiply.

    Args:
        student: ``(..., C)`` logits, float32 or float64 (CUDA also bfloat16 / float16, with float
            accumulation).
        teacher: logits of the same shape, dtype and device.
        tau: temperature, > 0.
        reduction: as F.kl_div: ``'batchmean'`` (sum / ``student.shape[0]``), ``'sum'``,
            ``'mean'`` (sum / numel), or ``'none'``: one KL per row, shape ``student.shape[:-1]``
            (F.kl_div's elementwise ``'none'`` summed over the classes).

    Returns:
        A 0-dim tensor, or ``student.shape[:-1]`` for ``'none'``, in the logits' dtype.

    Example:
        >>> s = torch.randn(8, 100, requires_grad=True)
        >>> loss = kd_kl_div(s, torch.randn(8, 100), tau=4.0)
        >>> loss.backward(); s.grad.shape
        torch.Size([8, 100])
    """
    check_logits("kd_kl_div", student, teacher)
    student, teacher = float32_under_autocast(student, teacher)
    tau = as_float("kd_kl_div", "tau", tau, positive=True)
    reduction = check_reduction("kd_kl_div", reduction)
    grad_s, grad_t = grads_wanted(student, teacher)
    return call_op(torch.ops.razor_ext.kd_kl_div, student, teacher, tau, reduction, grad_s, grad_t)[0]


@torch.library.register_fake("razor_ext::kd_kl_div")
def _kd_kl_div_fake(student: Tensor, teacher: Tensor, tau: float, reduction: str,
                    grad_student: bool, grad_teacher: bool):
    check_fake_logits("kd_kl_div", student, teacher, tau, reduction)
    return fake_outputs(student, reduction, grad_student, grad_teacher)


register_kd_autograd("razor_ext::kd_kl_div", num_inputs=6, reduction_at=3)
