"""mmcls's data transforms, on ``(H, W, C)`` uint8 numpy images and Pillow (no torchvision:
its wheels on our registry are CUDA builds that do not import with the CPU torch)."""
from razor_ext.data.transforms.augment_ops import AUG_OPS
from razor_ext.data.transforms.compose import Compose, pseudo_collate
from razor_ext.data.transforms.crd_formatting import PackCRDClsInputs
from razor_ext.data.transforms.formatting import LoadImageFromFile, PackClsInputs
from razor_ext.data.transforms.geometric import (CenterCrop, RandomCrop, RandomFlip,
                                                 RandomResizedCrop, Resize, ResizeEdge)
from razor_ext.data.transforms.photometric import ColorJitter, Cutout, RandomErasing
from razor_ext.data.transforms.policies import AutoAugment, RandAugment

__all__ = ['AUG_OPS', 'AutoAugment', 'CenterCrop', 'ColorJitter', 'Compose', 'Cutout',
           'LoadImageFromFile', 'PackCRDClsInputs', 'PackClsInputs', 'RandAugment', 'RandomCrop', 'RandomErasing',
           'RandomFlip', 'RandomResizedCrop', 'Resize', 'ResizeEdge', 'pseudo_collate']
