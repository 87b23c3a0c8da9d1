"""DistanceWiseRKD, AngleWiseRKD: Park et al., "Relational Knowledge Distillation" (CVPR 2019)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.registry import MODELS


def _pairwise_distance(x: Tensor, eps: float = 1e-12) -> Tensor:
    """``(N, D) -> (N, N)`` Euclidean distances (squared form clamped at ``eps``), zero diagonal."""
    sq = x.pow(2).sum(-1)
    dist = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * x @ x.t()).clamp(min=eps).sqrt()
    return dist * (1 - torch.eye(len(x), dtype=x.dtype, device=x.device))


def _angles(x: Tensor) -> Tensor:
    """Cosines of the angles ``<e_ij, e_ik>`` for unit vectors ``e_ij`` from ``x_i`` to ``x_j``."""
    unit = F.normalize(x.unsqueeze(0) - x.unsqueeze(1), p=2, dim=2)
    return torch.bmm(unit, unit.transpose(1, 2)).reshape(-1)


def _flatten(preds_S: Tensor, preds_T: Tensor, with_l2_norm: bool) -> tuple[Tensor, Tensor]:
    preds_S = preds_S.reshape(preds_S.size(0), -1)
    preds_T = preds_T.reshape(preds_T.size(0), -1)
    if with_l2_norm:
        preds_S, preds_T = F.normalize(preds_S, dim=1), F.normalize(preds_T, dim=1)
    return preds_S, preds_T


@MODELS.register_module()
class DistanceWiseRKD(nn.Module):
    """Smooth-L1 between the mean-normalised pairwise distance matrices.

    Paper: Park, Kim, Lu, Cho, "Relational Knowledge Distillation",
    https://arxiv.org/abs/1904.05068.

    Shapes: ``preds_S``, ``preds_T``: ``(N, ...)`` (flattened per sample; N >= 2).

    Example:
        >>> import torch
        >>> x = torch.randn(4, 3)
        >>> DistanceWiseRKD()(x, 3 * x).item() < 1e-5
        True
    """

    def __init__(self, loss_weight: float = 25.0, with_l2_norm: bool = True) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.with_l2_norm = with_l2_norm

    @staticmethod
    def _normalised_distance(x: Tensor) -> Tensor:
        d = _pairwise_distance(x)
        return d / d[d > 0].mean()

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        preds_S, preds_T = _flatten(preds_S, preds_T, self.with_l2_norm)
        d_t = self._normalised_distance(preds_T)
        return F.smooth_l1_loss(self._normalised_distance(preds_S), d_t) * self.loss_weight


@MODELS.register_module()
class AngleWiseRKD(nn.Module):
    """Smooth-L1 between the triplet angle cosines of teacher and student embeddings.

    Paper: Park, Kim, Lu, Cho, "Relational Knowledge Distillation",
    https://arxiv.org/abs/1904.05068.

    Shapes: ``preds_S``, ``preds_T``: ``(N, ...)`` (flattened per sample).

    Example:
        >>> import torch
        >>> x = torch.randn(4, 3)
        >>> AngleWiseRKD(with_l2_norm=False)(x, 2 * x).item() < 1e-6
        True
    """

    def __init__(self, loss_weight: float = 50.0, with_l2_norm: bool = True) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.with_l2_norm = with_l2_norm

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        preds_S, preds_T = _flatten(preds_S, preds_T, self.with_l2_norm)
        return F.smooth_l1_loss(_angles(preds_S), _angles(preds_T)) * self.loss_weight
