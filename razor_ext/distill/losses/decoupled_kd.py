"""DKDLoss: Zhao et al., "Decoupled Knowledge Distillation" (CVPR 2022)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.distill.losses._checks import check_positive, check_reduction
from razor_ext.distill.losses.functional import kd_kl_div
from razor_ext.registry import MODELS

# MMRazor masks the target class out of the non-target softmax by subtracting this from
# the tempered logit; kept so the numbers match.
_MASK_OFFSET = 1000.0


@MODELS.register_module()
class DKDLoss(nn.Module):
    """Decoupled KD: ``alpha * TCKD + beta * NCKD``.

    Paper: Zhao, Cui, Song, Qiu, Liang, "Decoupled Knowledge Distillation",
    https://arxiv.org/abs/2203.08679.
    TCKD is the KL between the binary (target, non-target) probabilities of teacher and
    student; NCKD the KL between their softmaxes over the non-target classes; both at
    temperature ``tau`` and multiplied by ``tau**2``.

    Args:
        tau, alpha, beta: temperature and the two term weights.
        reduction: as MMRazor's, which passes ``size_average=False`` to ``F.kl_div``: that
            legacy argument makes torch sum, then ``'batchmean'`` still divides by the batch
            size; so ``'batchmean'`` (the default) is the sum over the batch divided by ``N``
            and ``'sum'`` / ``'mean'`` / ``'none'`` are all the sum (its DKD config says
            ``'mean'`` with weights tuned for the sum).
        loss_weight: multiplier.

    Shapes: ``preds_S``, ``preds_T``: ``(N, C)``; ``gt_labels``: ``(N,)`` class indices.

    Example:
        >>> import torch
        >>> x = torch.randn(4, 6)
        >>> DKDLoss()(x, x, torch.tensor([0, 1, 2, 3])).abs().item() < 1e-5
        True
    """

    def __init__(self, tau: float = 1.0, alpha: float = 1.0, beta: float = 1.0,
                 reduction: str = 'batchmean', loss_weight: float = 1.0) -> None:
        super().__init__()
        check_positive('tau', tau)
        check_reduction(reduction, ('none', 'batchmean', 'sum', 'mean'))
        self.tau = tau
        self.alpha = alpha
        self.beta = beta
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor, gt_labels: Tensor) -> Tensor:
        gt_mask = torch.zeros_like(preds_S, dtype=torch.bool).scatter_(
            1, gt_labels.reshape(-1, 1).long(), True)
        return self.loss_weight * (self.alpha * self._tckd(preds_S, preds_T, gt_mask)
                                   + self.beta * self._nckd(preds_S, preds_T, gt_mask))

    def _tckd(self, preds_S: Tensor, preds_T: Tensor, gt_mask: Tensor) -> Tensor:
        # Binary distributions as log-probabilities; log_softmax of log-probabilities is the
        # identity, so kd_kl_div at tau=1 gives the binary KL, and tau**2 is applied here.
        def binary_log_probs(logits: Tensor) -> Tensor:
            prob = F.softmax(logits / self.tau, dim=1)
            target = (prob * gt_mask).sum(1, keepdim=True)
            return torch.cat([target, (prob * ~gt_mask).sum(1, keepdim=True)], 1).log()
        return kd_kl_div(binary_log_probs(preds_S), binary_log_probs(preds_T), 1.0,
                         self._mmrazor_reduction) * self.tau ** 2

    def _nckd(self, preds_S: Tensor, preds_T: Tensor, gt_mask: Tensor) -> Tensor:
        offset = gt_mask.to(preds_S.dtype) * (_MASK_OFFSET * self.tau)
        return kd_kl_div(preds_S - offset, preds_T - offset, self.tau, self._mmrazor_reduction)

    @property
    def _mmrazor_reduction(self) -> str:
        # F.kl_div(..., size_average=False, reduction=r): 'sum', then / N for 'batchmean'.
        return 'batchmean' if self.reduction == 'batchmean' else 'sum'
