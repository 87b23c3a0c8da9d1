"""mmcls's batch augments (Mixup, CutMix, RandomBatchAugment) run by ClsDataPreprocessor in
training: images and one-hot labels mixed by the same weight; heads train on the soft
targets."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from razor_ext.architectures.classifiers.batch_augments import CutMix, Mixup, RandomBatchAugment
from razor_ext.architectures.heads import LinearClsHead
from razor_ext.registry import MODELS


def _constant_images(n: int, size: int = 8) -> torch.Tensor:
    """Image i is constant i + 1, so a pixel says which image it came from."""
    return torch.arange(1.0, n + 1).view(n, 1, 1, 1).expand(n, 3, size, size).clone()


def test_mixup_mixes_images_and_labels_with_one_weight():
    np.random.seed(0)
    torch.manual_seed(0)
    x, y = _constant_images(4), torch.eye(4)
    mx, my = Mixup(alpha=0.4)(x, y)
    # each mixed image is lam * a + (1 - lam) * b; its label holds lam on a, 1 - lam on b
    for i in range(4):
        value = mx[i, 0, 0, 0]
        weights = my[i]
        assert weights.sum().item() == pytest.approx(1.0)
        assert value.item() == pytest.approx((weights * torch.arange(1.0, 5)).sum().item())
    with pytest.raises(ValueError, match='alpha'):
        Mixup(alpha=0)


def test_cutmix_label_weight_is_the_kept_area():
    np.random.seed(1)
    torch.manual_seed(1)
    x, y = _constant_images(6, size=16), torch.eye(6)
    for aug in (CutMix(alpha=1.0), CutMix(alpha=1.0, cutmix_minmax=(0.25, 0.5))):
        mx, my = aug(x, y)
        for i in range(6):
            kept = (mx[i, 0] == i + 1).float().mean().item()
            if kept < 1.0:  # a box from another image was pasted
                assert my[i, i].item() == pytest.approx(kept)
            assert my[i].sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match='cutmix_minmax'):
        CutMix(alpha=1.0, cutmix_minmax=(0.5, 0.2))


def test_random_batch_augment_picks_by_probability():
    np.random.seed(0)
    aug = RandomBatchAugment([dict(type='mmcls.Mixup', alpha=0.2)], probs=[0.5])
    x, y = torch.randn(4, 3, 4, 4), torch.eye(4)
    unchanged = sum(torch.equal(aug(x, y)[1], y) for _ in range(200))
    assert 60 < unchanged < 140
    with pytest.raises(ValueError, match='probs'):
        RandomBatchAugment([dict(type='Mixup', alpha=0.2)], probs=[0.7, 0.7])


def test_preprocessor_gives_soft_targets_in_training_only_and_the_head_uses_them():
    pre = MODELS.build(dict(type='mmcls.ClsDataPreprocessor', mean=[0.0] * 3, std=[1.0] * 3,
                            num_classes=5, batch_augments=dict(
                                augments=[dict(type='Mixup', alpha=1.0)], probs=[1.0])))
    data = {'inputs': torch.randint(0, 255, (4, 3, 8, 8), dtype=torch.uint8),
            'data_samples': [{'gt_label': torch.tensor([i])} for i in range(4)]}
    assert 'gt_score' not in pre(data, training=False)['data_samples'][0]
    out = pre(data, training=True)
    scores = torch.stack([s['gt_score'] for s in out['data_samples']])
    assert scores.shape == (4, 5) and torch.allclose(scores.sum(1), torch.ones(4))
    head = LinearClsHead(num_classes=5, in_channels=3, loss=dict(
        type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'))
    feats = (torch.randn(4, 3),)
    logits = head(feats)
    target = scores * 0.9 + 0.1 / 5
    want = -(target * logits.log_softmax(1)).sum(1).mean()
    torch.testing.assert_close(head.loss(feats, out['data_samples'])['loss'], want)
    with pytest.raises(ValueError, match='num_classes'):
        MODELS.build(dict(type='ClsDataPreprocessor', batch_augments=dict(
            augments=[dict(type='Mixup', alpha=1.0)])))
