"""``CRDDataset``: MMRazor's wrapper that gives every training sample the indices of its
contrastive partners for CRD (Tian et al., "Contrastive Representation Distillation", ICLR
2020): one positive, then ``neg_num`` negatives drawn from the other classes."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from razor_ext.registry import DATASETS


@DATASETS.register_module(name=['CRDDataset', 'mmrazor.CRDDataset'])
class CRDDataset(Dataset):
    """Wrap a classification data set; in training each sample's results gain
    ``contrast_sample_idxs``: ``(1 + neg_num,)`` int64, the positive first.

    Args:
        dataset: the data set or its config; it must offer ``get_data_info(i)`` (results before
            the pipeline), ``get_gt_labels()``, ``pipeline`` and ``test_mode`` (razor_ext's
            ``CustomDataset`` / ``ImageNet`` / ``CIFAR10`` / ``CIFAR100`` do).
        neg_num: negatives per sample (drawn with replacement only when a class has fewer).
        percent: in (0, 1): keep this share of each class's negative pool (fixed at build).
        num_classes: default ``max(label) + 1``.
        sample_mode: ``'exact'`` (the positive is the sample itself) or ``'random'`` (another
            sample of its class).
        seed: of the negative-pool subsampling (``percent``); sampling per item uses NumPy's
            global generator, as MMRazor.

    In ``test_mode`` samples pass through unchanged. Pack with ``PackCRDClsInputs``.

    Example:
        >>> class Tiny:
        ...     test_mode, pipeline = False, staticmethod(lambda r: r)
        ...     def __len__(self): return 4
        ...     def get_gt_labels(self): return np.array([0, 0, 1, 1])
        ...     def get_data_info(self, i): return {'sample_idx': i}
        >>> ds = CRDDataset(Tiny(), neg_num=3, percent=1.0)
        >>> idx = ds[1]['contrast_sample_idxs']
        >>> int(idx[0]), sorted(set(idx[1:].tolist()) - {2, 3})
        (1, [])
    """

    def __init__(self, dataset: Any, neg_num: int, percent: float = 1.0, lazy_init: bool = False,
                 num_classes: int | None = None, sample_mode: str = 'exact',
                 seed: int | None = None) -> None:
        if isinstance(dataset, Mapping):
            dataset = DATASETS.build(dict(dataset))
        for attr in ('get_data_info', 'get_gt_labels', 'pipeline'):
            if not hasattr(dataset, attr):
                raise TypeError(f'CRDDataset: the wrapped {type(dataset).__name__} has no '
                                f'{attr}(); wrap a CustomDataset, ImageNet, CIFAR10 or CIFAR100')
        if sample_mode not in ('exact', 'random'):
            raise ValueError(f"CRDDataset: sample_mode must be 'exact' or 'random', got "
                             f'{sample_mode!r}')
        if not isinstance(neg_num, int) or neg_num < 1:
            raise ValueError(f'CRDDataset: neg_num must be a positive int, got {neg_num!r}')
        if not 0 < percent <= 1:
            raise ValueError(f'CRDDataset: percent must be in (0, 1], got {percent!r}')
        self.dataset, self.neg_num, self.percent = dataset, neg_num, percent
        self.sample_mode = sample_mode
        self.test_mode = bool(getattr(dataset, 'test_mode', False))
        self.collate_fn = getattr(dataset, 'collate_fn', None)
        if not self.test_mode:
            labels = np.asarray(dataset.get_gt_labels(), np.int64)
            n_cls = int(num_classes if num_classes is not None else labels.max() + 1)
            self.gt_labels = labels
            self.cls_positive = [np.nonzero(labels == c)[0] for c in range(n_cls)]
            self.cls_negative = [np.nonzero(labels != c)[0] for c in range(n_cls)]
            if percent < 1:
                rng = np.random.default_rng(seed)
                n = int(len(self.cls_negative[0]) * percent)
                self.cls_negative = [rng.permutation(neg)[:n] for neg in self.cls_negative]

    def __len__(self) -> int:
        return len(self.dataset)

    def contrast_indices(self, idx: int) -> np.ndarray:
        """``(1 + neg_num,)``: the positive (``idx``, or a same-class sample), then negatives."""
        label = self.gt_labels[idx]
        pos = idx if self.sample_mode == 'exact' else int(np.random.choice(
            self.cls_positive[label]))
        pool = self.cls_negative[label]
        if len(pool) == 0:
            raise ValueError(f'CRDDataset: class {label} has no negatives (one class only?)')
        neg = np.random.choice(pool, self.neg_num, replace=self.neg_num > len(pool))
        return np.concatenate([[pos], neg]).astype(np.int64)

    def __getitem__(self, idx: int) -> Any:
        results = self.dataset.get_data_info(idx)
        if not self.test_mode:
            results['contrast_sample_idxs'] = self.contrast_indices(idx)
        out = self.dataset.pipeline(results)
        if out is None:
            raise ValueError(f'CRDDataset: the pipeline dropped sample {idx}')
        return out


__all__ = ['CRDDataset']
