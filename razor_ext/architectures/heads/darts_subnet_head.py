"""MMRazor's ``DartsSubnetClsHead``: the linear head of a DARTS subnet plus the linear classifier
of its auxiliary tower, whose loss is added with its own weight (DARTS's auxiliary loss)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from razor_ext.architectures.heads.linear_head import LinearClsHead, build_cls_loss, targets_of
from razor_ext.registry import MODELS


@MODELS.register_module(name=['DartsSubnetClsHead', 'mmrazor.DartsSubnetClsHead'])
class DartsSubnetClsHead(LinearClsHead):
    """:class:`LinearClsHead` on the last feature and ``aux_linear`` on the first (the auxiliary
    tower's output, which a DARTS backbone with ``auxliary=True`` puts first in training).

    ``loss`` returns the main head's entries plus ``aux_head.loss`` (``aux_loss`` on the
    auxiliary logits, e.g. ``CrossEntropyLoss`` with ``loss_weight=0.4``) and, with
    ``cal_acc``, ``aux_head.accuracy_top-k``. ``forward`` / ``predict`` use the main head only.

    Args:
        aux_in_channels: features of the auxiliary tower.
        aux_loss: its loss config (or module).
        other arguments: as :class:`LinearClsHead`.

    Shapes: ``feats``: ``((N, aux_in_channels), ..., (N, in_channels))`` -> logits
    ``(N, num_classes)``.

    Example:
        >>> import torch
        >>> head = DartsSubnetClsHead(aux_in_channels=6, num_classes=3, in_channels=4,
        ...     aux_loss=dict(type='CrossEntropyLoss', loss_weight=0.4))
        >>> sorted(head.loss((torch.randn(2, 6), torch.randn(2, 4)), torch.tensor([0, 2])))
        ['aux_head.loss', 'loss']
    """

    def __init__(self, aux_in_channels: int, aux_loss: Mapping[str, Any] | nn.Module,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aux_linear = nn.Linear(aux_in_channels, self.num_classes)
        self.aux_loss_module = build_cls_loss(aux_loss)

    def forward_aux(self, feats: tuple[Tensor, ...]) -> Tensor:
        """Auxiliary logits ``(N, num_classes)`` from ``feats[0]``."""
        return self.aux_linear(feats[0])

    def loss(self, feats: Tensor | tuple[Tensor, ...], data_samples: Any) -> dict[str, Tensor]:
        if not isinstance(feats, (tuple, list)) or len(feats) < 2:
            raise ValueError('DartsSubnetClsHead.loss needs the auxiliary tower output first: '
                             'build the backbone with auxliary=True and run it in train mode')
        losses = super().loss(feats, data_samples)
        scores = self.forward_aux(feats)
        target = targets_of(data_samples, scores.device)
        losses['aux_head.loss'] = self.aux_loss_module(scores, target, avg_factor=scores.size(0))
        if self.cal_acc and target.ndim == 1:
            ranked = scores.detach().topk(min(max(self.topk), scores.shape[1]), dim=1).indices
            for k in self.topk:
                hit = (ranked[:, :k] == target[:, None]).any(1).float().mean() * 100
                losses[f'aux_head.accuracy_top-{k}'] = hit
        return losses
