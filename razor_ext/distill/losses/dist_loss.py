"""DISTLoss: Huang et al., "Knowledge Distillation from A Stronger Teacher" (NeurIPS 2022)."""
from __future__ import annotations

from torch import Tensor, nn

from razor_ext.distill.losses._checks import check_positive
from razor_ext.registry import MODELS


def _mean_pearson_distance(a: Tensor, b: Tensor, eps: float = 1e-8) -> Tensor:
    """``1 - mean_i pearson(a[i], b[i])`` over the rows of two ``(R, K)`` matrices."""
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    corr = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)
    return 1 - corr.mean()


@MODELS.register_module()
class DISTLoss(nn.Module):
    """Inter-class (per sample) plus intra-class (per class) Pearson-correlation distance.

    Paper: Huang, You, Wang, Qian, Xu, "Knowledge Distillation from A Stronger Teacher",
    https://arxiv.org/abs/2205.10536.

    Args:
        inter_loss_weight, intra_loss_weight: weights of the two relations.
        tau: temperature of the softmax; each relation is multiplied by ``tau**2``.
        loss_weight: multiplier.
        teacher_detach: stop gradients into the teacher logits.

    Shapes: ``logits_S``, ``logits_T``: ``(N, C)``.

    Example:
        >>> import torch
        >>> x = torch.randn(4, 5)
        >>> DISTLoss()(x, x).abs().item() < 1e-3  # zero up to float32 rounding (seen: 7e-5)
        True
    """

    def __init__(self, inter_loss_weight: float = 1.0, intra_loss_weight: float = 1.0,
                 tau: float = 1.0, loss_weight: float = 1.0, teacher_detach: bool = True) -> None:
        super().__init__()
        check_positive('tau', tau)
        self.inter_loss_weight = inter_loss_weight
        self.intra_loss_weight = intra_loss_weight
        self.tau = tau
        self.loss_weight = loss_weight
        self.teacher_detach = teacher_detach

    def forward(self, logits_S: Tensor, logits_T: Tensor) -> Tensor:
        if self.teacher_detach:
            logits_T = logits_T.detach()
        y_s = (logits_S / self.tau).softmax(dim=1)
        y_t = (logits_T / self.tau).softmax(dim=1)
        inter = _mean_pearson_distance(y_s, y_t)
        intra = _mean_pearson_distance(y_s.t(), y_t.t())
        loss = self.tau ** 2 * (self.inter_loss_weight * inter + self.intra_loss_weight * intra)
        return self.loss_weight * loss
