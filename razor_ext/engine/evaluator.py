"""Evaluators: accumulate predictions over a loader and report metrics (top-k accuracy, loss)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from razor_ext.registry import METRICS


@METRICS.register_module()
class Accuracy:
    """Top-k accuracy (in percent) and mean cross-entropy of a classifier's logits.

    ``process(model, data)`` runs the model in ``'tensor'`` mode on the preprocessed batch, under
    ``torch.no_grad()``, so the loss is available too; ``compute()`` returns ``{'accuracy/top1': ..., 'accuracy/top5':
    ..., 'loss': ...}`` (top-k only for k below the class count).

    Args:
        topk: the k of each reported top-k accuracy.

    Example:
        >>> from razor_ext.algorithm import BaseAlgorithm
        >>> acc = Accuracy(topk=(1,))
        >>> model = BaseAlgorithm(torch.nn.Linear(2, 2))
        >>> acc.process(model, (torch.randn(8, 2), torch.randint(0, 2, (8,))))
        >>> sorted(acc.compute())
        ['accuracy/top1', 'loss']
    """

    def __init__(self, topk: Sequence[int] = (1, 5)) -> None:
        self.topk = tuple(topk)
        self.reset()

    def reset(self) -> None:
        self._correct = {k: 0 for k in self.topk}
        self._loss_sum, self._count, self._batches = 0.0, 0, 0

    @torch.no_grad()
    def process(self, model: Any, data: Any) -> None:
        batch = model._preprocess(data, training=False)
        logits = model(batch['inputs'], batch['data_samples'], mode='tensor')
        if isinstance(logits, (tuple, list)):
            logits = logits[-1]
        targets = batch['data_samples']
        if not torch.is_tensor(targets):
            raise TypeError('Accuracy needs label tensors as data_samples, got '
                            f'{type(targets).__name__}')
        targets = targets.to(logits.device)
        bad = ((targets < 0) | (targets >= logits.shape[1])).nonzero().flatten()
        if len(bad):
            i = int(bad[0])
            raise ValueError(f'Accuracy: label {int(targets[i])} at position {i} of batch '
                             f'{self._batches} is outside [0, {logits.shape[1]}): the model has '
                             f'{logits.shape[1]} classes; check the dataset labels or num_classes')
        self._batches += 1
        self._loss_sum += float(F.cross_entropy(logits.float(), targets, reduction='sum'))
        self._count += len(targets)
        ranked = logits.topk(min(max(self.topk), logits.shape[1]), dim=1).indices
        for k in self.topk:
            self._correct[k] += int((ranked[:, :k] == targets[:, None]).any(1).sum())

    def compute(self) -> dict[str, float]:
        if self._count == 0:
            raise ValueError('Accuracy.compute: no samples were processed (empty loader?)')
        metrics = {f'accuracy/top{k}': 100.0 * self._correct[k] / self._count for k in self.topk}
        metrics['loss'] = self._loss_sum / self._count
        return metrics
