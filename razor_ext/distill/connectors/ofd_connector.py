"""OFDTeacherConnector: the margin ReLU of "A Comprehensive Overhaul of Feature Distillation"."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.registry import MODELS


@MODELS.register_module()
class OFDTeacherConnector(nn.Module):
    """``max(teacher_feature, margin)`` per channel, without gradients; the margin (the
    expected value of the negative part of each pre-ReLU channel) is set by
    :meth:`init_margin`, which ``OverhaulFeatureDistillation`` calls from the teacher's BN.

    Paper: Heo et al., https://arxiv.org/abs/1904.01866.

    Example:
        >>> import torch
        >>> c = OFDTeacherConnector(); c.init_margin(torch.tensor([-0.5]).view(1, 1, 1, 1))
        >>> c(torch.tensor([-1.0, 2.0]).view(1, 1, 2, 1)).flatten().tolist()
        [-0.5, 2.0]
    """

    def __init__(self, init_cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.register_buffer('margin', None)

    def init_margin(self, margin: Tensor) -> None:
        self.margin = margin.detach().clone()

    def forward(self, feature: Tensor) -> Tensor:
        if self.margin is None:
            raise RuntimeError('OFDTeacherConnector: call init_margin(margin) before using it')
        return torch.maximum(feature.detach(), self.margin.to(feature))
