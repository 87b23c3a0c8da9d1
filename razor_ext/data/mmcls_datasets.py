"""mmcls's classification data sets with their config arguments: ``CustomDataset`` and
``ImageNet`` (image files in class sub-folders, or listed in an annotation file), ``CIFAR10`` and
``CIFAR100`` (the standard python-pickle batches). Each sample runs through ``pipeline``
(:mod:`razor_ext.data.transforms`) and batches with :func:`pseudo_collate`."""
from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from razor_ext.data.image_folder import IMAGE_SUFFIXES
from razor_ext.data.transforms.compose import Compose, pseudo_collate
from razor_ext.registry import DATASETS

_FOLDER_LAYOUT = ('<data_root>/<data_prefix>/<class name>/<image> (class sub-folders), or an '
                  'ann_file whose lines read "<path under data_prefix> <class index>"')


def _join(root: str | os.PathLike[str], part: Any) -> Path:
    if isinstance(part, Mapping):
        part = part.get('img_path', part.get('img', ''))
    part = os.fspath(part or '')
    return Path(part) if os.path.isabs(part) else Path(root or '') / part


class _PipelineDataset(Dataset):
    """Samples as results dicts run through a pipeline; ``collate_fn`` batches them."""

    collate_fn = staticmethod(pseudo_collate)

    def __init__(self, pipeline: Sequence[Any] = (), test_mode: bool = False) -> None:
        self.pipeline = Compose(pipeline)
        self.test_mode = test_mode
        self.samples: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.samples)

    def get_data_info(self, index: int) -> dict[str, Any]:
        """The results dict of sample ``index`` before the pipeline (as MMEngine's datasets)."""
        return {**self.samples[index], 'sample_idx': index}

    def get_gt_labels(self) -> np.ndarray:
        """``(len,)`` int64 labels of every sample."""
        return np.asarray([s['gt_label'] for s in self.samples], np.int64)

    def __getitem__(self, index: int) -> Any:
        out = self.pipeline(self.get_data_info(index))
        if out is None:
            raise ValueError(f'{type(self).__name__}: the pipeline dropped sample {index}')
        return out


@DATASETS.register_module(name=['CustomDataset', 'mmcls.CustomDataset'])
class CustomDataset(_PipelineDataset):
    """Images under ``data_root/data_prefix``: one sub-folder per class (sorted names are the
    classes), or the files an ``ann_file`` lists (``"<relative path> <label>"`` per line).

    Args:
        data_root, data_prefix, ann_file: where the images are (``data_prefix`` may be a
            ``dict(img_path=...)``); ``ann_file`` relative to ``data_root``.
        classes: class names (a list, or a file with one per line); default the sub-folder names.
        pipeline: transform configs; with_label: read labels; extensions: image suffixes.
        test_mode, lazy_init, metainfo: as mmcls (``lazy_init`` is ignored).

    Raises:
        FileNotFoundError: the folder or annotation file is missing (the message names the path
            and the layout expected).

    Example:
        >>> import tempfile, PIL.Image
        >>> root = Path(tempfile.mkdtemp())
        >>> for c in ('cat', 'dog'):
        ...     (root / 'train' / c).mkdir(parents=True)
        ...     PIL.Image.new('RGB', (8, 8)).save(root / 'train' / c / 'a.png')
        >>> ds = CustomDataset(data_root=root, data_prefix='train', pipeline=[
        ...     dict(type='LoadImageFromFile'), dict(type='PackClsInputs')])
        >>> ds.CLASSES, ds[1]['inputs'].shape, ds[1]['data_samples']['gt_label'].tolist()
        (['cat', 'dog'], torch.Size([3, 8, 8]), [1])
    """

    def __init__(self, data_root: str | os.PathLike[str] = '', data_prefix: Any = '',
                 ann_file: str | os.PathLike[str] = '', classes: Sequence[str] | str | None = None,
                 metainfo: Mapping[str, Any] | None = None, pipeline: Sequence[Any] = (),
                 test_mode: bool = False, with_label: bool = True,
                 extensions: Sequence[str] = IMAGE_SUFFIXES, lazy_init: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(pipeline, test_mode)
        kwargs.pop('serialize_data', None), kwargs.pop('max_refetch', None), kwargs.pop('indices', None)
        if kwargs:
            raise TypeError(f'{type(self).__name__} got unexpected arguments {sorted(kwargs)}')
        folder = _join(data_root, data_prefix)
        self.extensions = tuple(e.lower() for e in extensions)
        if isinstance(classes, (str, os.PathLike)):
            classes = [c.strip() for c in _join(data_root, classes).read_text().splitlines() if c.strip()]
        if classes is None and metainfo:
            classes = metainfo.get('classes')
        if ann_file:
            self._from_ann_file(_join(data_root, ann_file), folder, with_label)
            labels = sorted({s['gt_label'] for s in self.samples if 'gt_label' in s})
            self.CLASSES = list(classes) if classes else [str(i) for i in range(max(labels, default=-1) + 1)]
        else:
            self.CLASSES = self._from_folders(folder, classes)

    def _from_ann_file(self, ann: Path, folder: Path, with_label: bool) -> None:
        if not ann.is_file():
            raise FileNotFoundError(f'{type(self).__name__}: annotation file {ann} not found; '
                                    f'expected {_FOLDER_LAYOUT} (or set ann_file=\'\' to read '
                                    f'class sub-folders)')
        for lineno, line in enumerate(ann.read_text().splitlines(), 1):
            parts = line.strip().rsplit(' ', 1) if with_label else [line.strip()]
            if not parts[0]:
                continue
            sample = {'img_path': str(folder / parts[0])}
            if with_label:
                if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                    raise ValueError(f'{ann}:{lineno}: expected "<path> <class index>", got {line!r}')
                sample['gt_label'] = int(parts[1])
            self.samples.append(sample)

    def _from_folders(self, folder: Path, classes: Sequence[str] | None) -> list[str]:
        if not folder.is_dir():
            raise FileNotFoundError(f'{type(self).__name__}: data folder {folder} not found; '
                                    f'expected {_FOLDER_LAYOUT}')
        names = sorted(d.name for d in folder.iterdir() if d.is_dir())
        if not names:
            raise FileNotFoundError(f'{type(self).__name__}: {folder} has no class sub-folders; '
                                    f'expected {_FOLDER_LAYOUT}')
        classes = list(classes) if classes else names
        for label, name in enumerate(classes):
            files = sorted(p for p in (folder / name).rglob('*') if p.suffix.lower() in self.extensions)
            self.samples += [{'img_path': str(p), 'gt_label': label} for p in files]
        if not self.samples:
            raise FileNotFoundError(f'{type(self).__name__}: no images ({", ".join(self.extensions)}) '
                                    f'under {folder}')
        return classes


@DATASETS.register_module(name=['ImageNet', 'mmcls.ImageNet'])
class ImageNet(CustomDataset):
    """ImageNet in mmcls's layout: ``data_root/train/<wnid>/*.JPEG`` with ``meta/train.txt``
    (``"<wnid>/<file> <label>"`` lines); see :class:`CustomDataset` for the arguments."""


def _unpickle(path: Path) -> dict[bytes, Any]:
    with open(path, 'rb') as f:
        return pickle.load(f, encoding='bytes')


@DATASETS.register_module(name=['CIFAR10', 'mmcls.CIFAR10'])
class CIFAR10(_PipelineDataset):
    """CIFAR-10 from its python-pickle batches: ``<data_prefix>/cifar-10-batches-py/data_batch_1..5``
    (train) or ``test_batch`` (``test_mode=True``); images ``(32, 32, 3)`` uint8 RGB.

    Raises:
        FileNotFoundError: the batch files are missing (the message names the folder and files).
    """

    base_folder, train_list, test_list = ('cifar-10-batches-py',
                                          [f'data_batch_{i}' for i in range(1, 6)], ['test_batch'])
    label_key = b'labels'

    def __init__(self, data_prefix: Any = '', test_mode: bool = False, pipeline: Sequence[Any] = (),
                 data_root: str | os.PathLike[str] = '', metainfo: Any = None, download: bool = False,
                 lazy_init: bool = False) -> None:
        super().__init__(pipeline, test_mode)
        root = _join(data_root, data_prefix)
        folder = root / self.base_folder if (root / self.base_folder).is_dir() else root
        names = self.test_list if test_mode else self.train_list
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise FileNotFoundError(f'{type(self).__name__}: {missing} not found in {folder}; expected '
                                    f'<data_prefix>/{self.base_folder}/ holding {names} (the python '
                                    f'pickle version; razor_ext does not download it)')
        images, labels = [], []
        for name in names:
            entry = _unpickle(folder / name)
            images.append(np.asarray(entry[b'data'], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels += list(entry[self.label_key])
        data = np.concatenate(images)
        self.samples = [{'img': data[i], 'gt_label': int(labels[i])} for i in range(len(labels))]

    def get_data_info(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        return {'img': sample['img'].copy(), 'gt_label': sample['gt_label'], 'sample_idx': index}


@DATASETS.register_module(name=['CIFAR100', 'mmcls.CIFAR100'])
class CIFAR100(CIFAR10):
    """CIFAR-100 from ``<data_prefix>/cifar-100-python/train`` or ``test`` (fine labels)."""

    base_folder, train_list, test_list = 'cifar-100-python', ['train'], ['test']
    label_key = b'fine_labels'
