"""L2Loss: feature mimicking (Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from razor_ext.registry import MODELS


@MODELS.register_module()
class L2Loss(nn.Module):
    """Sum of squared differences, optionally of per-sample L2-normalised features.

    Paper: Romero, Ballas, Kahou, Chassang, Gatta, Bengio, "FitNets: Hints for Thin Deep
    Nets", https://arxiv.org/abs/1412.6550.

    Args:
        loss_weight: multiplier.
        normalize: L2-normalise each flattened sample first (then scale by ``mult``).
        mult: scale applied after normalisation.
        div_element: divide by the element count instead of the batch size.
        dist: return the Euclidean distance (square root of the sum) instead.

    Shapes: ``s_feature``, ``t_feature``: ``(N, ...)``, equal shapes.

    Example:
        >>> import torch
        >>> L2Loss(normalize=False)(torch.ones(2, 2), torch.zeros(2, 2)).item()
        2.0
    """

    def __init__(self, loss_weight: float = 1.0, normalize: bool = True, mult: float = 1.0,
                 div_element: bool = False, dist: bool = False) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.normalize = normalize
        self.mult = mult
        self.div_element = div_element
        self.dist = dist

    def normalize_feature(self, feature: Tensor) -> Tensor:
        flat = feature.reshape(feature.size(0), -1)
        return flat / flat.norm(2, dim=1, keepdim=True) * self.mult

    def forward(self, s_feature: Tensor, t_feature: Tensor) -> Tensor:
        if self.normalize:
            s_feature = self.normalize_feature(s_feature)
            t_feature = self.normalize_feature(t_feature)
        loss = (s_feature - t_feature).pow(2).sum()
        if self.dist:
            loss = torch.sqrt(loss)
        elif self.div_element:
            loss = loss / s_feature.numel()
        else:
            loss = loss / s_feature.size(0)
        return self.loss_weight * loss
