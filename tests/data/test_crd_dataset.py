"""CRDDataset (contrastive partner indices per sample) and PackCRDClsInputs, on a generated
CIFAR-10 pickle folder in MMRazor's CRD config layout."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from razor_ext.data import build_dataloader
from razor_ext.registry import DATASETS
from tests.data.test_mmcls_data import write_cifar

PIPE = [dict(_scope_='mmcls', type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(_scope_='mmrazor', type='PackCRDClsInputs')]


def crd(root: Path, **kwargs) -> object:
    return DATASETS.build(dict(_scope_='mmrazor', type='CRDDataset', dataset=dict(
        _scope_='mmcls', type='CIFAR10', data_prefix=str(root), test_mode=kwargs.pop(
            'test_mode', False), pipeline=PIPE), **kwargs))


@pytest.fixture
def cifar(tmp_path: Path) -> Path:
    # 5 batches of 3 samples labelled 0, 1, 2: 15 samples, 5 per class
    write_cifar(tmp_path, 'cifar-10-batches-py',
                [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch'], b'labels', 3)
    return tmp_path


def test_exact_mode_positive_is_the_sample_and_negatives_other_classes(cifar):
    np.random.seed(0)
    ds = crd(cifar, neg_num=6, percent=1.0, sample_mode='exact')
    labels = ds.gt_labels
    for i in (0, 4, 14):
        out = ds[i]
        idx = out['data_samples']['contrast_sample_idxs']
        assert idx.dtype == torch.int64 and idx.shape == (7,)
        assert idx[0] == i and out['data_samples']['sample_idx'] == torch.tensor(i)
        assert (labels[idx[1:].numpy()] != labels[i]).all()
        assert len(set(idx[1:].tolist())) == 6  # 10 negatives available: drawn without replacement


def test_random_mode_percent_and_replacement(cifar):
    np.random.seed(0)
    ds = crd(cifar, neg_num=20, percent=0.5, sample_mode='random', seed=0)
    assert all(len(neg) == 5 for neg in ds.cls_negative)  # half of the 10 negatives per class
    idx = ds[3]['data_samples']['contrast_sample_idxs']
    assert ds.gt_labels[int(idx[0])] == ds.gt_labels[3]  # a positive of the same class
    assert set(idx[1:].tolist()) <= set(ds.cls_negative[ds.gt_labels[3]].tolist())
    with pytest.raises(ValueError, match='sample_mode'):
        crd(cifar, neg_num=2, sample_mode='nearest')


def test_test_mode_passes_samples_through_and_batches_collate(cifar):
    test = crd(cifar, neg_num=4, test_mode=True)
    assert 'contrast_sample_idxs' not in test[0]['data_samples'] and len(test) == 3
    loader = build_dataloader(dict(batch_size=4, dataset=crd(cifar, neg_num=4),
                                   sampler=dict(type='DefaultSampler', shuffle=False)))
    batch = next(iter(loader))
    assert [s['contrast_sample_idxs'].shape for s in batch['data_samples']] == [(5,)] * 4
    assert [int(s['sample_idx']) for s in batch['data_samples']] == [0, 1, 2, 3]
