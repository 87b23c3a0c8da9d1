"""MGDLoss: Yang et al., "Masked Generative Distillation" (ECCV 2022)."""
from __future__ import annotations

from torch import Tensor, nn

from razor_ext.registry import MODELS


@MODELS.register_module()
class MGDLoss(nn.Module):
    """``alpha_mgd * sum((s - t)**2) / N``; the student map comes from an MGD connector
    (random masking + generation block).

    Paper: Yang, Li, Shu, Li, Yuan, Li, "Masked Generative Distillation",
    https://arxiv.org/abs/2205.01529.

    Shapes: ``preds_S``, ``preds_T``: ``(N, C, H, W)``, equal shapes.

    Example:
        >>> import torch
        >>> MGDLoss(alpha_mgd=1.0)(torch.ones(2, 1, 1, 1), torch.zeros(2, 1, 1, 1)).item()
        1.0
    """

    def __init__(self, alpha_mgd: float = 0.00002) -> None:
        super().__init__()
        self.alpha_mgd = alpha_mgd

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        if preds_S.shape != preds_T.shape:
            raise ValueError(f'preds_S {tuple(preds_S.shape)} and preds_T '
                             f'{tuple(preds_T.shape)} must have the same shape')
        return self.alpha_mgd * (preds_S - preds_T).pow(2).sum() / preds_T.size(0)
