"""A data pipeline from config dicts (``dict(type='RandomFlip', prob=0.5)``), and the collate
function that batches packed samples."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from razor_ext.registry import TRANSFORMS


def _supported() -> str:
    return ', '.join(sorted(k for k in TRANSFORMS.keys() if '.' not in k))


class Compose:
    """Run each transform on the results dict in turn; a transform returning None drops the sample.

    Raises:
        KeyError: an unknown transform ``type``; the message names it and lists the supported ones.

    Example:
        >>> import numpy as np
        >>> pipe = Compose([dict(type='CenterCrop', crop_size=2), dict(type='PackClsInputs')])
        >>> pipe({'img': np.zeros((4, 4, 3), np.uint8), 'gt_label': 1})['inputs'].shape
        torch.Size([3, 2, 2])
    """

    def __init__(self, transforms: Sequence[Mapping[str, Any] | Callable[..., Any]] | None) -> None:
        self.transforms: list[Callable[..., Any]] = []
        for t in transforms or []:
            if callable(t):
                self.transforms.append(t)
                continue
            if not isinstance(t, Mapping) or 'type' not in t:
                raise TypeError(f'a pipeline step must be a dict with a type or a callable, got {t!r}')
            if isinstance(t['type'], str) and TRANSFORMS.get(t['type']) is None:
                raise KeyError(f'unknown data transform {t["type"]!r}; razor_ext supports: {_supported()}')
            self.transforms.append(TRANSFORMS.build(t))

    def __call__(self, results: dict[str, Any]) -> Any:
        for t in self.transforms:
            results = t(results)
            if results is None:
                return None
        return results


def pseudo_collate(batch: Sequence[Any]) -> Any:
    """Batch packed samples: ``inputs`` stacked into ``(N, C, H, W)`` when all shapes agree (a list
    otherwise), ``data_samples`` kept as a list of dicts (as MMEngine's ``pseudo_collate``).

    Example:
        >>> b = pseudo_collate([{'inputs': torch.zeros(3, 2, 2), 'data_samples': {'gt_label': 1}}] * 2)
        >>> b['inputs'].shape, b['data_samples']
        (torch.Size([2, 3, 2, 2]), [{'gt_label': 1}, {'gt_label': 1}])
    """
    if not batch or not isinstance(batch[0], Mapping) or 'inputs' not in batch[0]:
        return torch.utils.data.default_collate(batch)
    inputs = [b['inputs'] for b in batch]
    if all(isinstance(x, torch.Tensor) and x.shape == inputs[0].shape for x in inputs):
        inputs = torch.stack(inputs)
    return {'inputs': inputs, 'data_samples': [b.get('data_samples') for b in batch]}
