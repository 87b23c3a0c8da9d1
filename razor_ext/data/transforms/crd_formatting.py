"""``PackCRDClsInputs``: ``PackClsInputs`` that also packs CRD's sample indices as tensors."""
from __future__ import annotations

from typing import Any

import torch

from razor_ext.data.transforms.formatting import PackClsInputs
from razor_ext.registry import TRANSFORMS


@TRANSFORMS.register_module(name=['PackCRDClsInputs', 'mmrazor.PackCRDClsInputs'])
class PackCRDClsInputs(PackClsInputs):
    """As :class:`PackClsInputs`; ``data_samples['sample_idx']`` becomes a 0-d int64 tensor and
    ``contrast_sample_idxs`` (from ``CRDDataset``) a ``(1 + neg_num,)`` int64 tensor.

    Example:
        >>> import numpy as np
        >>> out = PackCRDClsInputs()({'img': np.zeros((4, 4, 3), np.uint8), 'gt_label': 1,
        ...                           'sample_idx': 7, 'contrast_sample_idxs': np.array([7, 2])})
        >>> out['data_samples']['sample_idx'], out['data_samples']['contrast_sample_idxs']
        (tensor(7), tensor([7, 2]))
    """

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        out = super().__call__(results)
        sample = out['data_samples']
        if 'sample_idx' in results:
            sample['sample_idx'] = torch.as_tensor(results['sample_idx'], dtype=torch.int64)
        if 'contrast_sample_idxs' in results:
            sample['contrast_sample_idxs'] = torch.as_tensor(results['contrast_sample_idxs'],
                                                             dtype=torch.int64)
        return out


__all__ = ['PackCRDClsInputs']
