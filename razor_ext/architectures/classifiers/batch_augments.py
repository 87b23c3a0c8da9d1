"""mmcls's batch augments, run by ``ClsDataPreprocessor(batch_augments=...)`` in training:
``Mixup``, ``CutMix`` and ``RandomBatchAugment`` (one of them per batch, with probabilities).
Each mixes a batch with a permutation of itself and mixes the one-hot labels by the same
weight, so the head trains on soft targets (``gt_score``)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from razor_ext.registry import MODELS

__all__ = ['CutMix', 'Mixup', 'RandomBatchAugment', 'build_batch_augment']


def _check_alpha(alpha: float, name: str) -> float:
    if not isinstance(alpha, (int, float)) or alpha <= 0:
        raise ValueError(f'{name}: alpha must be a positive number, got {alpha!r}')
    return float(alpha)


@MODELS.register_module(name=['Mixup', 'mmcls.Mixup'])
class Mixup:
    """``x = lam * x + (1 - lam) * x[perm]``, same for the labels; ``lam ~ Beta(alpha, alpha)``.

    Shapes: ``inputs`` ``(N, C, H, W)``, ``scores`` ``(N, num_classes)`` -> same.

    Example:
        >>> x, y = torch.ones(2, 1, 2, 2), torch.eye(2)
        >>> mx, my = Mixup(alpha=1.0)(x * torch.tensor([0., 1.]).view(2, 1, 1, 1), y)
        >>> torch.allclose(mx[:, 0, 0, 0], my[:, 1])  # image and label mixed by one weight
        True
    """

    def __init__(self, alpha: float) -> None:
        self.alpha = _check_alpha(alpha, 'Mixup')

    def mix(self, inputs: Tensor, scores: Tensor) -> tuple[Tensor, Tensor, float, Tensor]:
        lam = float(np.random.beta(self.alpha, self.alpha))
        perm = torch.randperm(inputs.shape[0], device=inputs.device)
        return lam * inputs + (1 - lam) * inputs[perm], scores, lam, perm

    def __call__(self, inputs: Tensor, scores: Tensor) -> tuple[Tensor, Tensor]:
        mixed, scores, lam, perm = self.mix(inputs, scores)
        return mixed, lam * scores + (1 - lam) * scores[perm]


@MODELS.register_module(name=['CutMix', 'mmcls.CutMix'])
class CutMix(Mixup):
    """Paste a box of ``x[perm]`` into ``x``; labels mixed by the kept area.

    The box covers ``1 - lam`` of the image (``lam ~ Beta(alpha, alpha)``; with
    ``cutmix_minmax=(lo, hi)`` its sides are uniform fractions in ``[lo, hi]`` instead), centred
    uniformly and clipped at the border; ``correct_lam`` recomputes ``lam`` from the clipped box.

    Example:
        >>> x = torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)])
        >>> mx, my = CutMix(alpha=1.0)(x, torch.eye(2))
        >>> torch.allclose(mx[0].mean(), my[0, 1]) and torch.allclose(mx[1].mean(), my[1, 1])
        True
    """

    def __init__(self, alpha: float, cutmix_minmax: Sequence[float] | None = None,
                 correct_lam: bool = True) -> None:
        super().__init__(alpha)
        if cutmix_minmax is not None and (len(cutmix_minmax) != 2 or not
                                          0 < cutmix_minmax[0] <= cutmix_minmax[1] <= 1):
            raise ValueError(f'CutMix: cutmix_minmax must be (lo, hi) in (0, 1], got {cutmix_minmax!r}')
        self.cutmix_minmax, self.correct_lam = cutmix_minmax, correct_lam

    def box(self, lam: float, height: int, width: int) -> tuple[int, int, int, int, float]:
        """``(y1, y2, x1, x2, lam)`` of the pasted box and the label weight of the original."""
        if self.cutmix_minmax is not None:
            lo, hi = self.cutmix_minmax
            cut_h = int(np.random.randint(int(height * lo), int(height * hi) + 1))
            cut_w = int(np.random.randint(int(width * lo), int(width * hi) + 1))
            cy, cx = np.random.randint(0, height - cut_h + 1), np.random.randint(0, width - cut_w + 1)
            y1, y2, x1, x2 = cy, cy + cut_h, cx, cx + cut_w
        else:
            ratio = np.sqrt(1 - lam)
            cut_h, cut_w = int(height * ratio), int(width * ratio)
            cy, cx = np.random.randint(0, height), np.random.randint(0, width)
            y1, y2 = int(np.clip(cy - cut_h // 2, 0, height)), int(np.clip(cy + cut_h // 2, 0, height))
            x1, x2 = int(np.clip(cx - cut_w // 2, 0, width)), int(np.clip(cx + cut_w // 2, 0, width))
        if self.correct_lam or self.cutmix_minmax is not None:
            lam = 1 - (y2 - y1) * (x2 - x1) / float(height * width)
        return y1, y2, x1, x2, lam

    def mix(self, inputs: Tensor, scores: Tensor) -> tuple[Tensor, Tensor, float, Tensor]:
        lam = float(np.random.beta(self.alpha, self.alpha))
        perm = torch.randperm(inputs.shape[0], device=inputs.device)
        y1, y2, x1, x2, lam = self.box(lam, inputs.shape[-2], inputs.shape[-1])
        mixed = inputs.clone()
        mixed[..., y1:y2, x1:x2] = inputs[perm][..., y1:y2, x1:x2]
        return mixed, scores, lam, perm


@MODELS.register_module(name=['RandomBatchAugment', 'mmcls.RandomBatchAugment'])
class RandomBatchAugment:
    """One of ``augments`` per batch, picked with ``probs`` (none with the remaining probability).

    Example:
        >>> aug = RandomBatchAugment([dict(type='Mixup', alpha=0.2)], probs=[0.0])
        >>> x = torch.randn(2, 3, 4, 4)
        >>> torch.equal(aug(x, torch.eye(2))[0], x)
        True
    """

    def __init__(self, augments: Sequence[Mapping[str, Any] | Any],
                 probs: float | Sequence[float] | None = None) -> None:
        if isinstance(augments, Mapping):
            augments = [augments]
        self.augments = [MODELS.build(dict(a)) if isinstance(a, Mapping) else a for a in augments]
        if probs is None:
            probs = [1.0 / len(self.augments)] * len(self.augments)
        probs = [probs] if isinstance(probs, (int, float)) else list(probs)
        if len(probs) != len(self.augments) or any(p < 0 for p in probs) or sum(probs) > 1 + 1e-6:
            raise ValueError(f'RandomBatchAugment: probs {probs} must be one non-negative number '
                             f'per augment, summing to at most 1')
        self.probs = probs

    def __call__(self, inputs: Tensor, scores: Tensor) -> tuple[Tensor, Tensor]:
        options = self.augments + [None]
        weights = self.probs + [max(0.0, 1 - sum(self.probs))]
        pick = options[int(np.random.choice(len(options), p=np.array(weights) / sum(weights)))]
        return (inputs, scores) if pick is None else pick(inputs, scores)


def build_batch_augment(cfg: Mapping[str, Any] | None) -> RandomBatchAugment | None:
    """mmcls's ``batch_augments`` dict (``augments`` and ``probs``) as a callable, or None."""
    if cfg is None:
        return None
    if not isinstance(cfg, Mapping) or 'augments' not in cfg:
        raise ValueError(f"batch_augments must be dict(augments=[...], probs=...), got {cfg!r}")
    return RandomBatchAugment(cfg['augments'], cfg.get('probs'))
