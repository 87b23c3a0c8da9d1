"""ChannelWiseDivergence: Shu et al., "Channel-wise Knowledge Distillation for Dense Prediction"."""
from __future__ import annotations

from torch import Tensor, nn

from razor_ext.distill.losses._checks import check_positive
from razor_ext.distill.losses.functional import cwd_loss
from razor_ext.registry import MODELS


@MODELS.register_module()
class ChannelWiseDivergence(nn.Module):
    """KL between the spatial softmaxes of each channel, ``* tau**2 / (N*C)``.

    Paper: Shu, Liu, Gao, Yan, Shen, "Channel-wise Knowledge Distillation for Dense
    Prediction", ICCV 2021, https://arxiv.org/abs/2011.13256.

    Shapes: ``preds_S``, ``preds_T``: ``(N, C, H, W)``, equal shapes.

    Example:
        >>> import torch
        >>> x = torch.randn(2, 3, 4, 4)
        >>> ChannelWiseDivergence(tau=2.0)(x, x).abs().item() < 1e-5
        True
    """

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        check_positive('tau', tau)
        self.tau = tau
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        return self.loss_weight * cwd_loss(preds_S, preds_T, self.tau)
