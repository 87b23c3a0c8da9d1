"""``cwd_loss``: channel-wise distillation (Shu et al., ICCV 2021, arXiv:2011.13256)."""
from __future__ import annotations

from torch import Tensor

from razor_ext.ops.kd_autograd import check_logits
from razor_ext.ops.kd_kl_div import kd_kl_div


def cwd_loss(student: Tensor, teacher: Tensor, tau: float = 1.0) -> Tensor:
    """Channel-wise distillation loss of MMRazor's ``ChannelWiseDivergence`` (without its
    ``loss_weight``): for each (n, c), KL(softmax(teacher[n, c] / tau) || softmax(student[n, c] / tau))
    with the softmax over the H*W positions; summed, times ``tau**2 / (N * C)``.

    Each channel map is one row of the fused KD kernel (:func:`kd_kl_div` with ``'batchmean'``
    over ``N * C`` rows of ``H * W``), so it shares its single pass and in-forward gradients.

    Args:
        student: ``(N, C, H, W)`` feature maps (float32 / float64; CUDA also bf16 / fp16).
        teacher: the same shape, dtype and device.
        tau: temperature, > 0.

    Returns:
        A 0-dim tensor in the maps' dtype.

    Example:
        >>> import torch
        >>> s = torch.randn(2, 4, 8, 8, requires_grad=True)
        >>> cwd_loss(s, torch.randn(2, 4, 8, 8), tau=4.0).backward()
    """
    check_logits("cwd_loss", student, teacher)
    if student.dim() != 4:
        raise ValueError(f"cwd_loss: student must be N x C x H x W, got shape {tuple(student.shape)}")
    if teacher.shape != student.shape:
        raise ValueError(f"cwd_loss: teacher has shape {tuple(teacher.shape)} but student has "
                         f"shape {tuple(student.shape)}; they must be equal")
    n, c, h, w = student.shape
    return kd_kl_div(student.reshape(n * c, h * w), teacher.reshape(n * c, h * w), tau, "batchmean")
