"""KDSoftCELoss: soft-target cross-entropy distillation (Hinton et al., 2015)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.distill.losses._checks import check_positive, check_reduction
from razor_ext.registry import MODELS

_REDUCTIONS = (None, 'none', 'mean', 'sum')


@MODELS.register_module()
class KDSoftCELoss(nn.Module):
    """Cross-entropy of ``log_softmax(s/tau)`` against ``softmax(t/tau)`` (mmcls's soft CE),
    times ``tau**2`` when ``mult_tem_square``.

    Paper: Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network",
    https://arxiv.org/abs/1503.02531.

    Args:
        tau: temperature.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'`` (per sample) | None (= ``'none'``).
        mult_tem_square: multiply by ``tau**2``.
        loss_weight: multiplier.

    ``forward(preds_S, preds_T, weight=None, avg_factor=None, reduction_override=None)``:
    ``weight`` ``(N,)`` scales each sample; ``avg_factor`` replaces N in ``'mean'``.

    Example:
        >>> import torch
        >>> round(KDSoftCELoss()(torch.zeros(2, 4), torch.zeros(2, 4)).item(), 4)  # log(4)
        1.3863
    """

    def __init__(self, tau: float = 1.0, reduction: str = 'mean', mult_tem_square: bool = True,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        check_positive('tau', tau)
        check_reduction(reduction, _REDUCTIONS)
        self.tau = tau
        self.reduction = reduction
        self.mult_tem_square = mult_tem_square
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor, weight: Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None) -> Tensor:
        reduction = reduction_override if reduction_override else self.reduction
        check_reduction(reduction, _REDUCTIONS)
        soft_label = F.softmax(preds_T / self.tau, dim=-1)
        loss = -(soft_label * F.log_softmax(preds_S / self.tau, dim=-1)).sum(-1)
        if weight is not None:
            loss = loss * weight.float()
        if avg_factor is None:
            if reduction == 'mean':
                loss = loss.mean()
            elif reduction == 'sum':
                loss = loss.sum()
        elif reduction == 'mean':
            loss = loss.sum() / (avg_factor + torch.finfo(torch.float32).eps)
        elif reduction not in (None, 'none'):
            raise ValueError('avg_factor can only be used with reduction="mean"')
        loss = self.loss_weight * loss
        return loss * self.tau ** 2 if self.mult_tem_square else loss
