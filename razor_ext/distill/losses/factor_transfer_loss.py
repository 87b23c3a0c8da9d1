"""FTLoss: Kim et al., "Paraphrasing Complex Network: Network Compression via Factor Transfer"."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.registry import MODELS


@MODELS.register_module()
class FTLoss(nn.Module):
    """Mean absolute difference of the L2-normalised (flattened, per sample) factors.

    Paper: Kim, Park, Kwak, "Paraphrasing Complex Network: Network Compression via Factor
    Transfer", NeurIPS 2018, https://arxiv.org/abs/1802.04977. The factors come from a
    :class:`~razor_ext.distill.connectors.Paraphraser` (teacher) and a
    :class:`~razor_ext.distill.connectors.Translator` (student).

    Shapes: ``s_feature``, ``t_feature``: ``(N, ...)`` with equal element counts per sample.

    Example:
        >>> import torch
        >>> FTLoss()(torch.ones(2, 3), 2 * torch.ones(2, 3)).item()
        0.0
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    @staticmethod
    def factor(x: Tensor) -> Tensor:
        return F.normalize(x.reshape(x.size(0), -1))

    def forward(self, s_feature: Tensor, t_feature: Tensor) -> Tensor:
        return self.loss_weight * F.l1_loss(self.factor(s_feature), self.factor(t_feature))
