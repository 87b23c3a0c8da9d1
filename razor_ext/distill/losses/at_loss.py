"""ATLoss: Zagoruyko & Komodakis, "Paying More Attention to Attention" (ICLR 2017)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.registry import MODELS


@MODELS.register_module()
class ATLoss(nn.Module):
    """Mean squared difference of the L2-normalised spatial attention maps
    ``normalize(mean_c(x**2))``.

    Paper: Zagoruyko, Komodakis, "Paying More Attention to Attention: Improving the
    Performance of Convolutional Neural Networks via Attention Transfer",
    https://arxiv.org/abs/1612.03928.

    Shapes: ``s_feature``, ``t_feature``: ``(N, C_s, H, W)``, ``(N, C_t, H, W)``.

    Example:
        >>> import torch
        >>> ATLoss()(torch.ones(2, 3, 4, 4), torch.ones(2, 5, 4, 4)).item()
        0.0
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    @staticmethod
    def calc_attention_matrix(x: Tensor) -> Tensor:
        """``(N, C, H, W) -> (N, H*W)`` attention, L2-normalised per sample."""
        return F.normalize(x.pow(2).mean(1).reshape(x.size(0), -1))

    def forward(self, s_feature: Tensor, t_feature: Tensor) -> Tensor:
        diff = self.calc_attention_matrix(s_feature) - self.calc_attention_matrix(t_feature)
        return self.loss_weight * diff.pow(2).mean()
