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


def _reduce(loss: Tensor, weight: Tensor | None, reduction: str, avg_factor: float | None) -> Tensor:
    """mmcls's ``weight_reduce_loss``: per-sample weights, then mean / sum / none, the mean
    dividing by ``avg_factor`` when given."""
    if weight is not None:
        loss = loss * weight
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    return loss.sum() / avg_factor if avg_factor is not None else loss.mean()


_REDUCTIONS = ('none', 'mean', 'sum')


@MODELS.register_module(name='mmcls.CrossEntropyLoss')
class ClsCrossEntropyLoss(nn.Module):
    """mmcls's ``CrossEntropyLoss`` for classification heads: logits against labels.

    Registered as ``'mmcls.CrossEntropyLoss'``; mmcls heads (``LinearClsHead``) resolve a bare
    ``'CrossEntropyLoss'`` to it.

    Args:
        use_sigmoid: binary cross-entropy per class (labels are one-hot encoded when 1-D).
        use_soft: soft-label cross-entropy (``label`` holds a distribution per row).
        reduction: 'none', 'mean' or 'sum'.
        loss_weight: scale of the loss.
        class_weight: per-class weights.
        pos_weight: per-class positive weights (sigmoid only).

    Shapes: ``cls_score`` ``(N, C)``; ``label`` ``(N,)`` indices or ``(N, C)`` targets.

    Example:
        >>> import torch
        >>> loss = ClsCrossEntropyLoss()(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))
        >>> round(loss.item(), 4)
        0.6931
    """

    def __init__(self, use_sigmoid: bool = False, use_soft: bool = False,
                 reduction: str = 'mean', loss_weight: float = 1.0,
                 class_weight: list[float] | None = None,
                 pos_weight: list[float] | None = None) -> None:
        super().__init__()
        if use_sigmoid and use_soft:
            raise ValueError('use_sigmoid and use_soft cannot both be True')
        if reduction not in _REDUCTIONS:
            raise ValueError(f'reduction must be one of {_REDUCTIONS}, got {reduction!r}')
        self.use_sigmoid, self.use_soft = use_sigmoid, use_soft
        self.reduction, self.loss_weight = reduction, loss_weight
        self.class_weight, self.pos_weight = class_weight, pos_weight

    def forward(self, cls_score: Tensor, label: Tensor, weight: Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None,
                **kwargs: object) -> Tensor:
        reduction = reduction_override or self.reduction
        if reduction not in _REDUCTIONS:
            raise ValueError(f'reduction_override must be one of {_REDUCTIONS}, got {reduction!r}')
        cw = (cls_score.new_tensor(self.class_weight) if self.class_weight is not None else None)
        if self.use_sigmoid:
            if label.dim() == 1:
                label = F.one_hot(label.long(), cls_score.shape[-1])
            pw = cls_score.new_tensor(self.pos_weight) if self.pos_weight is not None else None
            loss = F.binary_cross_entropy_with_logits(cls_score, label.to(cls_score.dtype),
                                                      weight=cw, pos_weight=pw, reduction='none')
            loss = loss.mean(dim=-1) if reduction != 'none' else loss
        elif self.use_soft:
            loss = -(label * F.log_softmax(cls_score, dim=-1))
            loss = (loss * cw if cw is not None else loss).sum(dim=-1)
        else:
            loss = F.cross_entropy(cls_score, label, weight=cw, reduction='none')
        return self.loss_weight * _reduce(loss, weight, reduction, avg_factor)


@MODELS.register_module(name=['mmcls.LabelSmoothLoss', 'LabelSmoothLoss'])
class LabelSmoothLoss(nn.Module):
    """mmcls's ``LabelSmoothLoss``: cross-entropy against smoothed one-hot labels.

    Args:
        label_smooth_val: the smoothing epsilon.
        num_classes: classes (default: the score width).
        mode: 'original' (``(1 - eps) * onehot + eps / C``) or 'classy_vision'
            (``(onehot + eps / C) / (1 + eps)``).
        reduction, loss_weight: as in :class:`ClsCrossEntropyLoss`.

    Example:
        >>> import torch
        >>> s = torch.tensor([[2.0, 0.0]])
        >>> LabelSmoothLoss(0.0)(s, torch.tensor([0])).item() == ClsCrossEntropyLoss()(s, torch.tensor([0])).item()
        True
    """

    def __init__(self, label_smooth_val: float, num_classes: int | None = None,
                 mode: str = 'original', reduction: str = 'mean', loss_weight: float = 1.0,
                 use_sigmoid: bool | None = None) -> None:
        super().__init__()
        if not 0.0 <= label_smooth_val < 1.0:
            raise ValueError(f'label_smooth_val must be in [0, 1), got {label_smooth_val}')
        if mode not in ('original', 'classy_vision'):
            raise ValueError(f"mode must be 'original' or 'classy_vision', got {mode!r}")
        if reduction not in _REDUCTIONS:
            raise ValueError(f'reduction must be one of {_REDUCTIONS}, got {reduction!r}')
        if use_sigmoid:
            raise ValueError('LabelSmoothLoss: use_sigmoid (multi-label) is not supported here')
        self.label_smooth_val, self.num_classes, self.mode = label_smooth_val, num_classes, mode
        self.reduction, self.loss_weight = reduction, loss_weight

    def forward(self, cls_score: Tensor, label: Tensor, weight: Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None,
                **kwargs: object) -> Tensor:
        num_classes = self.num_classes or cls_score.shape[-1]
        if cls_score.shape[-1] != num_classes:
            raise ValueError(f'cls_score has {cls_score.shape[-1]} classes, num_classes is '
                             f'{num_classes}')
        eps = self.label_smooth_val
        onehot = (F.one_hot(label.long(), num_classes).to(cls_score.dtype) if label.dim() == 1
                  else label.to(cls_score.dtype))
        if self.mode == 'original':
            target = onehot * (1 - eps) + eps / num_classes
        else:
            target = (onehot + eps / num_classes) / (1 + eps)
        loss = -(target * F.log_softmax(cls_score, dim=-1)).sum(dim=-1)
        return self.loss_weight * _reduce(loss, weight, reduction_override or self.reduction,
                                          avg_factor)
