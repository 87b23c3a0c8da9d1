"""mmcls's ``LinearClsHead``: a linear classifier on the last feature, with its own loss."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.registry import MODELS


def build_cls_loss(cfg: Mapping[str, Any] | nn.Module) -> nn.Module:
    """A classification loss from ``cfg``, resolving bare names in mmcls's scope first: in an
    mmcls head, ``'CrossEntropyLoss'`` is mmcls's label loss, not the distillation loss of the
    same name."""
    if isinstance(cfg, nn.Module):
        return cfg
    if not isinstance(cfg, Mapping) or 'type' not in cfg:
        raise TypeError(f"loss must be an nn.Module or a config dict with 'type', got {cfg!r}")
    cfg = dict(cfg)
    kind = cfg['type']
    if isinstance(kind, str) and '.' not in kind and MODELS.get(f'mmcls.{kind}') is not None:
        cfg['type'] = f'mmcls.{kind}'
    return MODELS.build(cfg)


def labels_of(data_samples: Any, device: torch.device) -> Tensor:
    """Class indices ``(N,)`` from a label tensor, a list of ints / 0-d tensors, or a list of
    objects / dicts holding ``gt_label`` (mmcls data samples)."""
    if isinstance(data_samples, Tensor):
        return data_samples.to(device)
    if isinstance(data_samples, Sequence) and data_samples:
        labels = []
        for s in data_samples:
            label = s.get('gt_label') if isinstance(s, Mapping) else getattr(s, 'gt_label', s)
            labels.append(torch.as_tensor(label).reshape(-1)[0])
        return torch.stack(labels).to(device)
    raise TypeError(f'data_samples must be a label tensor or a list of samples with gt_label, '
                    f'got {type(data_samples).__name__}')


def targets_of(data_samples: Any, device: torch.device) -> Tensor:
    """Soft targets ``(N, num_classes)`` when the samples carry ``gt_score`` (mmcls's batch
    augments, Mixup / CutMix, set it) or are a 2-D score tensor, else class indices ``(N,)``."""
    if isinstance(data_samples, Tensor) and data_samples.ndim == 2:
        return data_samples.to(device)
    if isinstance(data_samples, Sequence) and not isinstance(data_samples, Tensor) and data_samples:
        scores = [s.get('gt_score') if isinstance(s, Mapping) else getattr(s, 'gt_score', None)
                  for s in data_samples]
        if all(score is not None for score in scores):
            return torch.stack([torch.as_tensor(score) for score in scores]).to(device)
    return labels_of(data_samples, device)


@MODELS.register_module(name=['LinearClsHead', 'mmcls.LinearClsHead'])
class LinearClsHead(nn.Module):
    """``fc`` (``nn.Linear``) on the last neck output; ``loss`` and ``predict`` as in mmcls.

    Args:
        num_classes: classes.
        in_channels: features of the last neck output.
        loss: a loss config (default mmcls's ``CrossEntropyLoss``) or module.
        topk: accuracies reported by :meth:`loss` when ``cal_acc``.
        cal_acc: add ``accuracy_top-k`` entries to the loss dict (logged, not optimised).
        init_cfg: accepted for config compatibility; :meth:`init_weights` uses N(0, 0.01).

    Shapes: ``feats``: tuple of ``(N, in_channels)`` -> logits ``(N, num_classes)``.

    Example:
        >>> head = LinearClsHead(num_classes=3, in_channels=4)
        >>> feats = (torch.randn(2, 4),)
        >>> head(feats).shape, sorted(head.loss(feats, torch.tensor([0, 2])))
        (torch.Size([2, 3]), ['loss'])
    """

    def __init__(self, num_classes: int, in_channels: int,
                 loss: Mapping[str, Any] | nn.Module = {'type': 'CrossEntropyLoss',
                                                        'loss_weight': 1.0},
                 topk: int | Sequence[int] = (1,), cal_acc: bool = False,
                 init_cfg: Any = None) -> None:
        super().__init__()
        if num_classes <= 0:
            raise ValueError(f'num_classes must be positive, got {num_classes}')
        self.num_classes, self.in_channels = num_classes, in_channels
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        self.cal_acc, self.init_cfg = cal_acc, init_cfg
        self.loss_module = build_cls_loss(loss)
        self.fc = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        nn.init.normal_(self.fc.weight, 0.0, 0.01)
        nn.init.zeros_(self.fc.bias)

    def pre_logits(self, feats: Tensor | tuple[Tensor, ...]) -> Tensor:
        """The last feature (the head uses only the last stage)."""
        return feats[-1] if isinstance(feats, (tuple, list)) else feats

    def forward(self, feats: Tensor | tuple[Tensor, ...]) -> Tensor:
        return self.fc(self.pre_logits(feats))

    def loss(self, feats: Tensor | tuple[Tensor, ...], data_samples: Any) -> dict[str, Tensor]:
        """``{'loss': ...}`` (plus ``accuracy_top-k`` with ``cal_acc``)."""
        scores = self(feats)
        target = targets_of(data_samples, scores.device)
        losses = {'loss': self.loss_module(scores, target, avg_factor=scores.size(0))}
        if self.cal_acc and target.ndim == 1:  # mmcls: no accuracy on mixed (soft) targets
            ranked = scores.detach().topk(min(max(self.topk), scores.shape[1]), dim=1).indices
            for k in self.topk:
                hit = (ranked[:, :k] == target[:, None]).any(1).float().mean() * 100
                losses[f'accuracy_top-{k}'] = hit
        return losses

    def predict(self, feats: Tensor | tuple[Tensor, ...], data_samples: Any = None) -> Tensor:
        """Predicted class indices ``(N,)``."""
        return self(feats).argmax(dim=1)
