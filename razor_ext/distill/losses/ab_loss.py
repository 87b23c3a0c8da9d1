"""ABLoss: Heo et al., "Knowledge Transfer via Distillation of Activation Boundaries" (AAAI 2019)."""
from __future__ import annotations

from torch import Tensor, nn

from razor_ext.registry import MODELS


@MODELS.register_module()
class ABLoss(nn.Module):
    """Alternative hinge loss on activation boundaries, ``* 3 / 1000 / N`` as in the paper's code.

    For each element: ``(s + m)**2`` where ``s > -m`` and the teacher neuron is off
    (``t <= 0``), ``(s - m)**2`` where ``s <= m`` and it is on (``t > 0``).

    Paper: Heo, Lee, Yun, Choi, "Knowledge Transfer via Distillation of Activation
    Boundaries Formed by Hidden Neurons", https://arxiv.org/abs/1811.03233.

    Args:
        loss_weight: multiplier.
        margin: the margin ``m``.

    Shapes: ``s_feature``, ``t_feature``: ``(N, ...)``, equal shapes (pre-ReLU features).

    Example:
        >>> import torch
        >>> ABLoss()(torch.full((1, 2), 2.0), torch.ones(1, 2)).item()
        0.0
    """

    def __init__(self, loss_weight: float = 1.0, margin: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.margin = margin

    def forward(self, s_feature: Tensor, t_feature: Tensor) -> Tensor:
        m = self.margin
        off = (s_feature > -m) & (t_feature <= 0)
        on = (s_feature <= m) & (t_feature > 0)
        loss = ((s_feature + m).pow(2) * off + (s_feature - m).pow(2) * on).sum()
        return self.loss_weight * loss / s_feature.size(0) / 1000 * 3
