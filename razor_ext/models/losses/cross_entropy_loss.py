"""CrossEntropyLoss (distillation): cross-entropy of the student on the teacher's argmax."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.registry import MODELS


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Cross-entropy of the student's logits against the teacher's hard (argmax) labels.

    Paper: the hard-target variant discussed in Hinton, Vinyals, Dean, "Distilling the
    Knowledge in a Neural Network", https://arxiv.org/abs/1503.02531. (The mmcls
    classification loss is registered separately as ``'mmcls.CrossEntropyLoss'``.)

    Shapes: ``preds_S``, ``preds_T``: ``(N, C)`` or ``(N, C, ...)``.

    Example:
        >>> import torch
        >>> CrossEntropyLoss()(torch.tensor([[9.0, 0.0]]), torch.tensor([[1.0, 0.0]])).item() < 1e-3
        True
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        return self.loss_weight * F.cross_entropy(preds_S, preds_T.detach().argmax(dim=1))
