"""L1Loss: absolute feature mimicking (as used for FitNets-style hints)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.distill.losses._checks import check_reduction
from razor_ext.registry import MODELS


@MODELS.register_module()
class L1Loss(nn.Module):
    """Mean (or summed) absolute difference of two features.

    Paper: Romero et al., "FitNets: Hints for Thin Deep Nets", https://arxiv.org/abs/1412.6550
    (hint losses; L1 variant).

    Args:
        loss_weight: multiplier.
        size_average, reduce: torch's deprecated flags, passed on to ``F.l1_loss``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'`` | ``'batchmean'`` (sum / N; MMRazor
            accepts the name but ``F.l1_loss`` rejects it, see docs/distillation.md).

    Example:
        >>> import torch
        >>> L1Loss()(torch.ones(2, 2), torch.zeros(2, 2)).item()
        1.0
    """

    def __init__(self, loss_weight: float = 1.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = 'mean') -> None:
        super().__init__()
        check_reduction(reduction, ('none', 'batchmean', 'sum', 'mean'))
        self.loss_weight = loss_weight
        self.size_average = size_average
        self.reduce = reduce
        self.reduction = reduction

    def forward(self, s_feature: Tensor, t_feature: Tensor) -> Tensor:
        if self.reduction == 'batchmean' and self.size_average is None and self.reduce is None:
            loss = (s_feature - t_feature).abs().sum() / s_feature.size(0)
        else:
            loss = F.l1_loss(s_feature, t_feature, self.size_average, self.reduce, self.reduction)
        return self.loss_weight * loss
