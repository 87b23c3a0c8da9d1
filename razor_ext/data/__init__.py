"""Embedded data sets for demos and tests: real images shipped inside installed packages, read
offline (never downloaded).

Example:
    >>> from razor_ext.data import EmbeddedDigits
    >>> train = EmbeddedDigits('mnist5k', split='train')
    >>> image, label = train[0]
    >>> image.shape, label.dtype
    (torch.Size([1, 28, 28]), torch.int64)
"""
from razor_ext.data.embedded import EmbeddedDigits, load_digits_8x8, load_mnist5k
from razor_ext.data.image_folder import ImageFolder
from razor_ext.data.mmcls_datasets import CIFAR10, CIFAR100, CustomDataset, ImageNet
from razor_ext.data.crd_dataset import CRDDataset
from razor_ext.data import transforms
from razor_ext.data.loaders import EpochSeededSampler, build_dataloader, build_dataset

__all__ = ['CIFAR10', 'CIFAR100', 'CRDDataset', 'CustomDataset', 'ImageNet', 'transforms', 'EmbeddedDigits', 'EpochSeededSampler', 'ImageFolder', 'build_dataloader', 'build_dataset',
           'load_digits_8x8', 'load_mnist5k']
