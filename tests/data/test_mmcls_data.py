"""mmcls's data sets (folders, annotation files, CIFAR pickles) and transforms, checked against
what each one must do to the pixels."""
from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from razor_ext.data import CIFAR10, CIFAR100, CustomDataset, ImageNet, build_dataloader
from razor_ext.data.transforms import Compose
from razor_ext.registry import TRANSFORMS


def build(cfg: dict):
    return TRANSFORMS.build(cfg)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for label, name in enumerate(('cat', 'dog', 'emu')):
        (tmp_path / 'train' / name).mkdir(parents=True)
        for i in range(2):
            # red channel holds the label so the loaded order can be checked
            Image.new('RGB', (10, 6), (label * 50, 0, 200)).save(tmp_path / 'train' / name / f'{i}.png')
    return tmp_path


def test_custom_dataset_from_class_folders_and_from_an_ann_file(folder: Path) -> None:
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackClsInputs')]
    ds = CustomDataset(data_root=folder, data_prefix='train', pipeline=pipeline)
    assert ds.CLASSES == ['cat', 'dog', 'emu'] and len(ds) == 6
    sample = ds[4]
    # loaded as BGR (mmcv's order): channel 2 is red
    assert sample['inputs'].shape == (3, 6, 10) and sample['inputs'][2, 0, 0].item() == 100
    assert sample['data_samples']['gt_label'].tolist() == [2]
    (folder / 'meta').mkdir()
    (folder / 'meta' / 'train.txt').write_text('dog/1.png 1\nemu/0.png 2\n')
    ann = ImageNet(data_root=folder, data_prefix='train', ann_file='meta/train.txt', pipeline=pipeline)
    assert len(ann) == 2 and ann[1]['data_samples']['gt_label'].tolist() == [2]


def test_missing_data_names_the_path_and_the_layout(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r'nope.*not found.*<class name>'):
        CustomDataset(data_root=tmp_path, data_prefix='nope')
    with pytest.raises(FileNotFoundError, match=r'meta/val.txt not found'):
        ImageNet(data_root=tmp_path, ann_file='meta/val.txt')
    with pytest.raises(FileNotFoundError, match=r'cifar-10-batches-py.*data_batch_1'):
        CIFAR10(data_prefix=tmp_path)


def test_unknown_transform_lists_the_supported_ones() -> None:
    with pytest.raises(KeyError, match=r"'Mosaic'.*supports: .*RandomResizedCrop.*ResizeEdge"):
        Compose([dict(type='Mosaic')])


def write_cifar(root: Path, folder: str, names: list[str], key: bytes, n: int) -> np.ndarray:
    (root / folder).mkdir(parents=True)
    data = np.arange(n * 3072, dtype=np.int64).reshape(n, 3072) % 251
    for name in names:
        with open(root / folder / name, 'wb') as f:
            pickle.dump({b'data': data.astype(np.uint8), key: list(range(n))}, f)
    return data.astype(np.uint8)


def test_cifar_pickle_layouts(tmp_path: Path) -> None:
    data = write_cifar(tmp_path, 'cifar-10-batches-py', [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch'],
                       b'labels', 3)
    train = CIFAR10(data_prefix=tmp_path, pipeline=[dict(type='PackClsInputs')])
    test = CIFAR10(data_prefix=tmp_path, test_mode=True, pipeline=[dict(type='PackClsInputs')])
    assert (len(train), len(test)) == (15, 3)
    # CHW rows of the pickle come back as (3, 32, 32) unchanged
    assert torch.equal(test[1]['inputs'], torch.from_numpy(data[1].reshape(3, 32, 32)))
    write_cifar(tmp_path, 'cifar-100-python', ['train', 'test'], b'fine_labels', 4)
    assert CIFAR100(data_prefix=tmp_path, test_mode=True)[3]['gt_label'] == 3
    loader = build_dataloader(dict(batch_size=4, dataset=dict(
        type='CIFAR10', data_prefix=str(tmp_path), pipeline=[
            dict(type='RandomCrop', crop_size=32, padding=4), dict(type='RandomFlip', prob=0.5),
            dict(type='PackClsInputs')])))
    batch = next(iter(loader))
    assert batch['inputs'].shape == (4, 3, 32, 32) and batch['inputs'].dtype == torch.uint8
    assert [s['gt_label'].item() for s in batch['data_samples']] == [0, 1, 2, 0]


def test_geometric_transforms_move_pixels_as_specified() -> None:
    img = np.arange(6 * 8, dtype=np.uint8).reshape(6, 8, 1).repeat(3, axis=2)
    assert np.array_equal(build(dict(type='CenterCrop', crop_size=4))({'img': img})['img'], img[1:5, 2:6])
    assert np.array_equal(build(dict(type='RandomFlip', prob=1.0))({'img': img})['img'], img[:, ::-1])
    assert np.array_equal(build(dict(type='RandomFlip', prob=1.0, direction='vertical'))({'img': img})['img'],
                          img[::-1])
    assert build(dict(type='RandomFlip', prob=0.0))({'img': img})['img'] is img
    assert build(dict(type='ResizeEdge', scale=12, edge='short'))({'img': img})['img'].shape == (12, 16, 3)
    assert build(dict(type='ResizeEdge', scale=4, edge='long'))({'img': img})['img'].shape == (3, 4, 3)
    random.seed(0)
    padded = build(dict(type='RandomCrop', crop_size=(8, 6), padding=4))({'img': img})['img']
    assert padded.shape == (6, 8, 3)
    out = build(dict(type='RandomResizedCrop', scale=5))({'img': img})['img']
    assert out.shape == (5, 5, 3) and out.min() >= img.min() and out.max() <= img.max()


def test_photometric_and_erasing_transforms() -> None:
    grey = np.full((8, 8, 3), 100, np.uint8)
    # contrast and saturation leave a flat grey image flat; brightness scales it
    out = build(dict(type='ColorJitter', contrast=0.5, saturation=0.5))({'img': grey.copy()})['img']
    assert np.array_equal(out, grey)
    bright = build(dict(type='ColorJitter', brightness=(2.0, 2.0)))({'img': grey.copy()})['img']
    assert (bright == 200).all()
    erased = build(dict(type='RandomErasing', erase_prob=1.0, min_area_ratio=0.25, max_area_ratio=0.25,
                        aspect_range=(1.0, 1.0), fill_color=(0, 0, 0)))({'img': grey.copy()})['img']
    assert int((erased == 0).all(-1).sum()) == 16
    cut = build(dict(type='Cutout', shape=2, prob=1.0, pad_val=0))({'img': grey.copy()})['img']
    assert 1 <= int((cut == 0).all(-1).sum()) <= 4


def test_autoaugment_and_randaugment_apply_the_named_operations() -> None:
    img = np.full((4, 4, 3), 10, np.uint8)
    inv = build(dict(type='AutoAugment', policies=[[dict(type='Invert', prob=1.0)]]))({'img': img.copy()})
    assert (inv['img'] == 245).all()
    solarize = build(dict(type='RandAugment', num_policies=1, magnitude_level=10, total_level=10,
                          policies=[dict(type='Solarize', magnitude_range=(256, 0))]))
    assert (solarize({'img': img.copy()})['img'] == 245).all()  # threshold 0: every pixel inverted
    posterize = build(dict(type='Posterize', bits=2, prob=1.0))({'img': np.full((2, 2, 3), 200, np.uint8)})
    assert (posterize['img'] == 192).all()
    with pytest.raises(ValueError, match='policies'):
        build(dict(type='AutoAugment', policies='imagenet'))
