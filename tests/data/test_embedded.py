import torch

from razor_ext.data import EmbeddedDigits, load_mnist5k
from razor_ext.data.embedded import split_indices


def test_mnist5k_is_real_digits_500_per_class():
    images, labels = load_mnist5k()
    assert images.shape == (5000, 1, 28, 28) and labels.shape == (5000,)
    assert torch.bincount(labels).tolist() == [500] * 10
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    # Real digits: mostly background, yet every image has ink.
    assert 0.05 < float(images.mean()) < 0.25 and bool((images.flatten(1).amax(1) > 0.5).all())


def test_splits_are_disjoint_stratified_and_deterministic():
    _, labels = load_mnist5k()
    parts = {s: split_indices(labels, s, seed=0) for s in ('train', 'val', 'test')}
    assert [len(parts[s]) for s in ('train', 'val', 'test')] == [4000, 500, 500]
    assert len(torch.cat(list(parts.values())).unique()) == 5000
    assert torch.bincount(labels[parts['val']]).tolist() == [50] * 10
    assert torch.equal(split_indices(labels, 'val', seed=0), parts['val'])
    assert not torch.equal(split_indices(labels, 'val', seed=1), parts['val'])


def test_dataset_items_and_normalisation():
    train = EmbeddedDigits('mnist5k', 'train')
    image, label = train[3]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32 and label.dtype == torch.int64
    assert abs(float(train.images.mean())) < 1e-4 and abs(float(train.images.std()) - 1) < 1e-3
