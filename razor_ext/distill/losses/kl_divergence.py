"""KLDivergence: Hinton et al., "Distilling the Knowledge in a Neural Network" (2015)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.distill.losses._checks import check_positive, check_reduction
from razor_ext.distill.losses.functional import kd_kl_div
from razor_ext.registry import MODELS


@MODELS.register_module()
class KLDivergence(nn.Module):
    """Temperature-scaled KL divergence between teacher and student logits.

    Paper: Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network",
    https://arxiv.org/abs/1503.02531.
    ``loss_weight * tau**2 * KL(softmax(t/tau) || softmax(s/tau))`` over dim 1.

    Args:
        tau: temperature.
        reduction: as ``F.kl_div`` and MMRazor: ``'batchmean'`` (sum / N), ``'sum'``,
            ``'mean'`` (sum / numel) or ``'none'`` (the element-wise terms, shaped as the input).
        loss_weight: multiplier.
        teacher_detach: stop gradients into the teacher logits.

    Shapes: ``preds_S``, ``preds_T``: ``(N, C)`` or ``(N, C, ...)`` (classes on dim 1).

    Example:
        >>> import torch
        >>> KLDivergence(tau=4.0)(torch.zeros(2, 5), torch.zeros(2, 5)).item()
        0.0
    """

    def __init__(self, tau: float = 1.0, reduction: str = 'batchmean', loss_weight: float = 1.0,
                 teacher_detach: bool = True) -> None:
        super().__init__()
        check_positive('tau', tau)
        check_reduction(reduction, ('none', 'batchmean', 'sum', 'mean'))
        self.tau = tau
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.teacher_detach = teacher_detach

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        if self.teacher_detach:
            preds_T = preds_T.detach()
        if self.reduction == 'none':
            # MMRazor's element-wise terms (N, C, ...): the fused kernel reduces over classes.
            if preds_S.shape != preds_T.shape or preds_S.ndim < 2:
                raise ValueError(f'preds_S and preds_T must have one shape (N, C, ...), got '
                                 f'{tuple(preds_S.shape)} and {tuple(preds_T.shape)}')
            terms = F.kl_div(F.log_softmax(preds_S / self.tau, dim=1),
                             F.softmax(preds_T / self.tau, dim=1), reduction='none')
            return self.loss_weight * self.tau**2 * terms
        if preds_S.ndim > 2:  # classes on dim 1 as in MMRazor; the kernel wants them last
            preds_S, preds_T = preds_S.movedim(1, -1), preds_T.movedim(1, -1)
        return self.loss_weight * kd_kl_div(preds_S, preds_T, self.tau, self.reduction)
