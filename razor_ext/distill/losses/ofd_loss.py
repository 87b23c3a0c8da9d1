"""OFDLoss: Heo et al., "A Comprehensive Overhaul of Feature Distillation" (ICCV 2019)."""
from __future__ import annotations

from torch import Tensor, nn

from razor_ext.distill.losses._checks import check_positive
from razor_ext.registry import MODELS


@MODELS.register_module()
class OFDLoss(nn.Module):
    """Partial L2 distance: squared error where ``s > t`` or ``t > 0``, summed,
    ``/ N / mul_factor``.

    Paper: Heo, Kim, Yun, Park, Kwak, Choi, "A Comprehensive Overhaul of Feature
    Distillation", https://arxiv.org/abs/1904.01866. The teacher feature is taken before its
    ReLU and passed through :class:`~razor_ext.distill.connectors.OFDTeacherConnector`.

    Shapes: ``s_feature``, ``t_feature``: ``(N, ...)``, equal shapes.

    Example:
        >>> import torch
        >>> OFDLoss(mul_factor=1.0)(torch.zeros(1, 2), torch.tensor([[-1.0, 1.0]])).item()
        2.0
    """

    def __init__(self, loss_weight: float = 1.0, mul_factor: float = 1000.0) -> None:
        super().__init__()
        check_positive('mul_factor', mul_factor)
        self.loss_weight = loss_weight
        self.mul_factor = mul_factor

    def forward(self, s_feature: Tensor, t_feature: Tensor) -> Tensor:
        keep = (s_feature > t_feature) | (t_feature > 0)
        loss = ((s_feature - t_feature).pow(2) * keep).sum()
        return self.loss_weight * loss / s_feature.size(0) / self.mul_factor
