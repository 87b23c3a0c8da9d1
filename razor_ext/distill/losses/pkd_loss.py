"""PKDLoss: Cao et al., "PKD: General Distillation Framework for Object Detectors via Pearson
Correlation Coefficient" (NeurIPS 2022)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.registry import MODELS


@MODELS.register_module()
class PKDLoss(nn.Module):
    """Half the MSE between per-channel standardised features (``1 - Pearson`` in effect).

    Paper: Cao, Zhang, Li, Hua, Wang, Zhang, "PKD: General Distillation Framework for Object
    Detectors via Pearson Correlation Coefficient", https://arxiv.org/abs/2207.02039.

    Args:
        loss_weight: multiplier.
        resize_stu: when spatial sizes differ, resize the student (True) or the teacher
            (bilinear) to the other's size.

    Shapes: ``preds_S``, ``preds_T``: ``(N, C, H, W)`` tensors or tuples of them (FPN levels).

    Example:
        >>> import torch
        >>> x = torch.randn(2, 3, 4, 4)
        >>> PKDLoss()(x, 2 * x + 1).item() < 1e-6
        True
    """

    def __init__(self, loss_weight: float = 1.0, resize_stu: bool = True) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.resize_stu = resize_stu

    @staticmethod
    def norm(feat: Tensor) -> Tensor:
        """Standardise each channel over (N, H, W) with the unbiased std (+1e-6)."""
        if feat.ndim != 4:
            raise ValueError(f'PKDLoss expects N x C x H x W features, got {tuple(feat.shape)}')
        mean = feat.mean(dim=(0, 2, 3), keepdim=True)
        std = feat.std(dim=(0, 2, 3), keepdim=True)
        return (feat - mean) / (std + 1e-6)

    def forward(self, preds_S: Tensor | tuple[Tensor, ...],
                preds_T: Tensor | tuple[Tensor, ...]) -> Tensor:
        if isinstance(preds_S, Tensor):
            preds_S, preds_T = (preds_S,), (preds_T,)
        loss: Tensor | float = 0.0
        for pred_S, pred_T in zip(preds_S, preds_T):
            if pred_S.shape[2:] != pred_T.shape[2:]:
                if self.resize_stu:
                    pred_S = F.interpolate(pred_S, pred_T.shape[2:], mode='bilinear')
                else:
                    pred_T = F.interpolate(pred_T, pred_S.shape[2:], mode='bilinear')
            if pred_S.shape != pred_T.shape:
                raise ValueError(f'preds_S {tuple(pred_S.shape)} and preds_T '
                                 f'{tuple(pred_T.shape)} differ after resizing')
            loss = loss + F.mse_loss(self.norm(pred_S), self.norm(pred_T)) / 2
        return torch.as_tensor(loss) * self.loss_weight
