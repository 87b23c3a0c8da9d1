"""WSLD: Zhou et al., "Rethinking Soft Labels for Knowledge Distillation" (ICLR 2021)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.distill.losses._checks import check_positive
from razor_ext.registry import MODELS


@MODELS.register_module()
class WSLD(nn.Module):
    """Weighted soft-label distillation: the soft cross-entropy of each sample is weighted by
    ``1 - exp(-CE_student / CE_teacher)`` (the two hard-label cross-entropies, no gradient).

    Paper: Zhou, Song, Chen, Zhou, Wang, Yuan, Zhang, "Rethinking Soft Labels for Knowledge
    Distillation: A Bias-Variance Tradeoff Perspective", https://arxiv.org/abs/2102.00650.

    Args:
        tau: temperature of the soft cross-entropy (multiplied by ``tau**2``).
        loss_weight: multiplier.
        num_classes: number of classes (width of the one-hot labels).

    Shapes: ``student``, ``teacher``: ``(N, num_classes)``; ``gt_labels``: ``(N,)``.

    Example:
        >>> import torch
        >>> loss = WSLD(num_classes=3)(torch.randn(2, 3), torch.randn(2, 3), torch.tensor([0, 2]))
        >>> loss.ndim
        0
    """

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0, num_classes: int = 1000) -> None:
        super().__init__()
        check_positive('tau', tau)
        self.tau = tau
        self.loss_weight = loss_weight
        self.num_classes = num_classes

    def forward(self, student: Tensor, teacher: Tensor, gt_labels: Tensor) -> Tensor:
        if student.size(1) != self.num_classes:
            raise ValueError(f'num_classes is {self.num_classes} but student has '
                             f'{student.size(1)} classes')
        soft_ce = -(F.softmax(teacher / self.tau, 1)
                    * F.log_softmax(student / self.tau, 1)).sum(1)
        with torch.no_grad():
            labels = gt_labels.reshape(-1, 1).long()
            ce_s = -F.log_softmax(student, 1).gather(1, labels).squeeze(1)
            ce_t = -F.log_softmax(teacher, 1).gather(1, labels).squeeze(1)
            weight = 1 - torch.exp(-(ce_s / (ce_t + 1e-7)).clamp(min=0))
        return self.loss_weight * self.tau ** 2 * (weight * soft_ce).mean()
