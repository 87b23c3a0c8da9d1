"""Bad data gives an error naming the file, folder, index or import path at fault."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from razor_ext.data import ImageFolder, build_dataloader
from razor_ext.engine.evaluator import Accuracy
from razor_ext.algorithm import BaseAlgorithm


def _folder(root, classes=('cat', 'dog'), per_class=2):
    for cls in classes:
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            Image.new('L', (6, 6), color=40 * i).save(root / cls / f'{i}.png')
    return root


def test_a_good_folder_reads(tmp_path):
    ds = ImageFolder(_folder(tmp_path), size=(4, 4))
    assert len(ds) == 4 and ds.classes == ['cat', 'dog'] and ds[3][0].shape == (1, 4, 4)
    assert [int(ds[i][1]) for i in range(4)] == [0, 0, 1, 1]


def test_missing_and_empty_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere is not a folder'):
        ImageFolder(tmp_path / 'nowhere')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='empty has no class sub-folders'):
        ImageFolder(tmp_path / 'empty')
    root = _folder(tmp_path / 'data')
    (root / 'zebra').mkdir()
    (root / 'zebra' / 'notes.txt').write_text('not an image')
    with pytest.raises(ValueError, match='class folder .*zebra holds no images'):
        ImageFolder(root)


def test_a_corrupt_image_is_named_with_its_index(tmp_path):
    root = _folder(tmp_path)
    (root / 'dog' / '1.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    ds = ImageFolder(root)
    ds[0]
    with pytest.raises(ValueError, match=r'cannot read image .*dog/1\.png \(index 3\)'):
        ds[3]
    loader = build_dataloader(dict(batch_size=4, dataset=ds))
    with pytest.raises(ValueError, match=r'dog/1\.png'):
        next(iter(loader))


def test_a_dataset_import_path_that_does_not_exist(tmp_path):
    with pytest.raises(KeyError, match="'mypkg.nothere.Data': cannot import it"):
        build_dataloader(dict(batch_size=2, dataset=dict(type='mypkg.nothere.Data')))


def test_labels_out_of_range_are_named():
    model = BaseAlgorithm(torch.nn.Linear(3, 4))
    acc = Accuracy(topk=(1,))
    acc.process(model, (torch.randn(2, 3), torch.tensor([0, 3])))
    with pytest.raises(ValueError, match=r'label 7 at position 1 of batch 1 is outside \[0, 4\)'):
        acc.process(model, (torch.randn(2, 3), torch.tensor([1, 7])))
    with pytest.raises(ValueError, match='label -1 at position 0'):
        acc.process(model, (torch.randn(2, 3), torch.tensor([-1, 0])))
