"""Autograd and argument checks shared by the KD ops (``kd_kl_div``, ``dkd_loss``).

The C++ ops return ``(loss, grad_student, grad_teacher)``: forward computes the gradients of the
loss w.r.t. the logits in the same pass over the rows (``csrc/include/razor/kd.h``), for the
inputs the caller says need them. Backward is then only a multiply by the incoming gradient, and
nothing else full-size is kept between forward and backward. Double backward is not supported
(it raises instead of giving a silently wrong second derivative).
"""
from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

REDUCTIONS = ("batchmean", "sum", "mean", "none")


def check_logits(op: str, student: Tensor, teacher: Tensor) -> None:
    for name, t in (("student", student), ("teacher", teacher)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a torch.Tensor, got {type(t).__name__}")
        if t.layout != torch.strided:
            raise TypeError(f"{op}: {name} must be a dense (strided) tensor, got layout {t.layout}")


def as_float(op: str, name: str, value: float, positive: bool = False) -> float:
    """A Python float from an int/float (not a bool or a tensor), positive if asked, finite."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(f"{op}: {name} must be a {'positive ' if positive else ''}finite number, got {value}")
    return value


def check_reduction(op: str, reduction: str) -> str:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def grads_wanted(*tensors: Tensor) -> list[bool]:
    """Which logits forward should compute the gradient for: those autograd will ask about."""
    enabled = torch.is_grad_enabled()
    return [enabled and t.requires_grad for t in tensors]


def fake_outputs(student: Tensor, reduction: str, grad_student: bool,
                 grad_teacher: bool) -> tuple[Tensor, Tensor, Tensor]:
    """The shapes the C++ ops return, for their fake (meta) registrations."""
    loss_shape = student.shape[:-1] if reduction == "none" else ()
    loss = student.new_empty(loss_shape)

    def grad(wanted: bool) -> Tensor:
        if wanted:
            return torch.empty_like(student, memory_format=torch.contiguous_format)
        return student.new_empty((0,))

    return loss, grad(grad_student), grad(grad_teacher)


def check_fake_logits(op: str, student: Tensor, teacher: Tensor, tau: float, reduction: str) -> None:
    torch._check_value(student.dim() >= 1, lambda: f"{op}: student must have at least 1 dim")
    torch._check_value(student.shape == teacher.shape,
                       lambda: f"{op}: teacher has shape {tuple(teacher.shape)} but student has "
                       f"shape {tuple(student.shape)}; they must be equal")
    torch._check(student.dtype == teacher.dtype,
                 lambda: f"{op}: teacher has dtype {teacher.dtype} but student has {student.dtype}")
    torch._check_value(tau > 0, lambda: f"{op}: tau must be a positive finite number, got {tau}")
    torch._check_value(reduction in REDUCTIONS,
                       lambda: f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _is_exactly_one(grad: Tensor) -> bool:
    """A plain CPU scalar 1: checked by value only where that is free (no tracing, no device
    sync); anything else takes the multiply."""
    return (type(grad) is Tensor and grad.dim() == 0 and grad.device.type == "cpu"
            and not grad.requires_grad and grad.item() == 1.0)


def register_kd_autograd(qualname: str, num_inputs: int, reduction_at: int) -> None:
    """Registers autograd for an op whose inputs begin (student, teacher, ...) and whose
    ``reduction_at``-th input is the reduction; outputs are (loss, grad_student, grad_teacher)."""
    op = qualname.split("::")[1]

    def setup_context(ctx, inputs, output) -> None:
        student = inputs[0]
        ctx.per_row = inputs[reduction_at] == "none"
        ctx.logits_shape = student.shape
        ctx.save_for_backward(output[1], output[2])
        ctx.mark_non_differentiable(output[1], output[2])
        # The gradient outputs get no gradient: without this autograd would hand backward a
        # full-size tensor of zeros for each.
        ctx.set_materialize_grads(False)

    def scaled(ctx, saved: Tensor, grad: Tensor, name: str) -> Tensor:
        if saved.shape != ctx.logits_shape:
            raise RuntimeError(
                f"{op}: the gradient for {name} was not computed in forward; call the op with "
                f"grad_{name}=True (razor_ext.ops.{op} does this when {name} requires grad)")
        if _is_exactly_one(grad):
            # loss.backward()'s implicit gradient: the saved buffer is the answer. Autograd has
            # released the saved tensors by the time it hands this on (unless the graph is
            # retained, when it copies), so a leaf's .grad takes the buffer without a copy.
            return saved
        return saved * (grad.unsqueeze(-1) if ctx.per_row else grad)

    @once_differentiable
    def backward(ctx, grad_loss, _grad_gs, _grad_gt):
        saved_s, saved_t = ctx.saved_tensors
        if grad_loss is None:  # not materialized: the loss itself got no gradient
            return (None,) * num_inputs
        need_s, need_t = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_s = scaled(ctx, saved_s, grad_loss, "student") if need_s else None
        grad_t = scaled(ctx, saved_t, grad_loss, "teacher") if need_t else None
        return (grad_s, grad_t) + (None,) * (num_inputs - 2)

    torch.library.register_autograd(qualname, backward, setup_context=setup_context)
