"""``ImageFolder``: a user's images in class sub-folders, read with PIL + numpy (no torchvision)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from razor_ext.registry import DATASETS

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.tif', '.tiff', '.webp')


@DATASETS.register_module()
class ImageFolder(Dataset):
    """Images under ``root/<class name>/*.png`` as ``(image (C, H, W) float32 in [0, 1], label)``.

    Classes are the sorted sub-folder names. Every image is resized to ``size`` (H, W) and
    converted to ``mode`` (``'L'`` grey, ``'RGB'``). Errors name the file or folder at fault:
    an empty root, a class folder without images, an image PIL cannot read.

    Args:
        root: the folder holding one sub-folder per class.
        size: (H, W) every image is resized to.
        mode: PIL mode, ``'L'`` or ``'RGB'``.

    Example:
        >>> import tempfile, PIL.Image
        >>> root = Path(tempfile.mkdtemp())
        >>> for cls in ('cat', 'dog'):
        ...     (root / cls).mkdir()
        ...     PIL.Image.new('L', (5, 5)).save(root / cls / 'a.png')
        >>> ds = ImageFolder(root, size=(4, 4), mode='L')
        >>> ds.classes, ds[1][0].shape, int(ds[1][1])
        (['cat', 'dog'], torch.Size([1, 4, 4]), 1)
    """

    def __init__(self, root: str | os.PathLike[str], size: tuple[int, int] = (28, 28),
                 mode: str = 'L') -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f'ImageFolder: {root} is not a folder')
        self.classes = sorted(d.name for d in root.iterdir() if d.is_dir())
        if not self.classes:
            raise ValueError(f'ImageFolder: {root} has no class sub-folders')
        self.samples: list[tuple[Path, int]] = []
        for label, cls in enumerate(self.classes):
            files = sorted(f for f in (root / cls).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise ValueError(f'ImageFolder: class folder {root / cls} holds no images '
                                 f'({", ".join(IMAGE_SUFFIXES)})')
            self.samples += [(f, label) for f in files]
        self.size, self.mode = tuple(size), mode
        self.num_classes = len(self.classes)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        from PIL import Image, UnidentifiedImageError

        path, label = self.samples[index]
        try:
            with Image.open(path) as img:
                img = img.convert(self.mode).resize((self.size[1], self.size[0]))
                array = np.asarray(img, dtype=np.float32) / 255.0
        except (OSError, UnidentifiedImageError) as err:
            raise ValueError(f'ImageFolder: cannot read image {path} (index {index}): {err}') from err
        if array.ndim == 2:
            array = array[None]
        else:
            array = array.transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(array)), torch.tensor(label)
