"""Data-free KD losses: Chen et al., "Data-Free Learning of Student Networks" (DAFL, ICCV 2019).

These score the *teacher's* outputs on generated images; they train the generator.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.registry import MODELS


@MODELS.register_module()
class OnehotLikeLoss(nn.Module):
    """Cross-entropy of the teacher's logits against their own argmax (one-hot-like outputs).

    Paper: Chen et al., "DAFL: Data-Free Learning of Student Networks",
    https://arxiv.org/abs/1904.01186.

    Shapes: ``preds_T``: ``(N, C)``.

    Example:
        >>> import torch
        >>> OnehotLikeLoss()(torch.tensor([[20.0, 0.0]])).item() < 1e-6
        True
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, preds_T: Tensor) -> Tensor:
        return self.loss_weight * F.cross_entropy(preds_T, preds_T.detach().argmax(1))


@MODELS.register_module()
class InformationEntropyLoss(nn.Module):
    """Negative entropy (base 10) of the batch-mean class distribution: low when the
    generated batch covers every class evenly.

    Paper: Chen et al., "DAFL: Data-Free Learning of Student Networks",
    https://arxiv.org/abs/1904.01186.

    Args:
        gather: under torch.distributed, average the class distribution over all ranks
            (with gradients) before taking the entropy.
        loss_weight: multiplier.

    Shapes: ``preds_T``: ``(N, C)``.

    Example:
        >>> import math, torch
        >>> round(InformationEntropyLoss()(torch.zeros(4, 10)).item(), 5)
        -1.0
    """

    def __init__(self, gather: bool = True, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.gather = gather
        self.loss_weight = loss_weight

    def forward(self, preds_T: Tensor) -> Tensor:
        if self.gather and dist.is_available() and dist.is_initialized() \
                and dist.get_world_size() > 1:
            from torch.distributed.nn.functional import all_gather
            preds_T = torch.cat(all_gather(preds_T), dim=0)
        class_prob = F.softmax(preds_T, dim=1).mean(dim=0)
        return self.loss_weight * (class_prob * torch.log10(class_prob)).sum()


@MODELS.register_module()
class ActivationLoss(nn.Module):
    """Negative activation magnitude of the teacher's features: ``-||f||`` (``'norm'``) or
    ``-mean|f|`` (``'abs'``).

    Paper: Chen et al., "DAFL: Data-Free Learning of Student Networks",
    https://arxiv.org/abs/1904.01186.

    Shapes: ``feat_T``: ``(N, ...)``.

    Example:
        >>> import torch
        >>> ActivationLoss()(torch.full((2, 3), -2.0)).item()
        -2.0
    """

    def __init__(self, loss_weight: float = 1.0, norm_type: str = 'abs') -> None:
        super().__init__()
        if norm_type not in ('norm', 'abs'):
            raise ValueError(f"norm_type must be 'norm' or 'abs', got {norm_type!r}")
        self.loss_weight = loss_weight
        self.norm_type = norm_type

    def forward(self, feat_T: Tensor) -> Tensor:
        flat = feat_T.reshape(feat_T.size(0), -1)
        value = flat.norm() if self.norm_type == 'norm' else flat.abs().mean()
        return -self.loss_weight * value
