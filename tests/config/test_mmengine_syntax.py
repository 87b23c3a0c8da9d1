"""MMEngine's config syntax as MMRazor's configs use it, on config files written here:
``_base_.x`` and ``{{_base_.x}}`` references, ``_delete_``, ``mmcls::`` scoped bases and
``cfg_path=`` model dicts; out-of-scope packages give a one-line error."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from razor_ext.config import Config, ConfigParseError
from razor_ext.config.openmmlab_scopes import MMCLS_CONFIGS


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding='utf-8')
    return path


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return write(tmp_path / 'base.py', (
        "nas_backbone = dict(type='SearchableShuffleNetV2', widen_factor=1.0, layers=[1, 2])\n"
        "train_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackClsInputs')]\n"
        "model = dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=18),\n"
        "             head=dict(num_classes=1000, in_channels=512))\n"))


def test_base_attribute_reads_in_a_py_body(tmp_path: Path, base: Path) -> None:
    cfg = Config.fromfile(write(tmp_path / 'child.py', (
        "_base_ = ['./base.py']\n"
        "supernet = dict(type='ImageClassifier', backbone=_base_.nas_backbone)\n"
        "depth = _base_.model.backbone.depth + 16\n"
        "second = _base_.nas_backbone.layers[1]\n"
        "model = _base_.model\n"
        "model.head.num_classes = 10\n")))
    assert cfg.supernet.backbone.to_dict() == {'type': 'SearchableShuffleNetV2', 'widen_factor': 1.0,
                                               'layers': [1, 2]}
    assert (cfg.depth, cfg.second, cfg.model.head.num_classes) == (34, 2, 10)
    # a read is a copy: changing it in the child leaves the base's own key as the child wrote it
    assert cfg.model.backbone.depth == 18 and cfg.nas_backbone.widen_factor == 1.0


def test_double_brace_references_in_py_yaml_and_json(tmp_path: Path, base: Path) -> None:
    py = Config.fromfile(write(tmp_path / 'a.py', (
        "_base_ = './base.py'\n"
        "val_pipeline = {{_base_.train_pipeline}}\n")))
    yml = Config.fromfile(write(tmp_path / 'b.yaml', (
        "_base_: ./base.py\n"
        "val_pipeline: {{_base_.train_pipeline}}\n"
        "head: '{{ _base_.model.head }}'\n")))
    js = Config.fromfile(write(tmp_path / 'c.json', json.dumps(
        {'_base_': './base.py', 'val_pipeline': '{{_base_.train_pipeline}}', 'n': '{{_base_.model.head.num_classes}}'})))
    expected = [{'type': 'LoadImageFromFile'}, {'type': 'PackClsInputs'}]
    assert py.to_dict()['val_pipeline'] == yml.to_dict()['val_pipeline'] == js.to_dict()['val_pipeline'] == expected
    assert yml.head.in_channels == 512 and js.n == 1000


def test_delete_replaces_a_base_dict_read_through_base_refs(tmp_path: Path, base: Path) -> None:
    cfg = Config.fromfile(write(tmp_path / 'd.py', (
        "_base_ = ['./base.py']\n"
        "model = dict(_delete_=True, type='SingleTeacherDistill', architecture=_base_.model)\n")))
    assert sorted(cfg.model) == ['architecture', 'type']
    assert cfg.model.architecture.backbone.depth == 18


def test_missing_base_key_names_the_file_and_the_keys(tmp_path: Path, base: Path) -> None:
    with pytest.raises(ConfigParseError, match=r"e\.py.*no key 'nas_bakbone'.*nas_backbone"):
        Config.fromfile(write(tmp_path / 'e.py', "_base_ = ['./base.py']\nx = _base_.nas_bakbone\n"))
    with pytest.raises(KeyError, match=r"f\.yaml.*no key 'nope'"):
        Config.fromfile(write(tmp_path / 'f.yaml', "_base_: ./base.py\nx: '{{_base_.model.nope}}'\n"))
    with pytest.raises(ConfigParseError, match='_base_ must be a literal'):
        Config.fromfile(write(tmp_path / 'g.py', "import os\n_base_ = [os.path.join('a', 'b.py')]\n"))


def test_mmcls_scoped_bases_and_cfg_path_model_dicts(tmp_path: Path) -> None:
    cfg_file = write(tmp_path / 'kd.py', (
        "_base_ = ['mmcls::_base_/datasets/imagenet_bs32.py',\n"
        "          'mmcls::_base_/schedules/imagenet_bs256.py', 'mmcls::_base_/default_runtime.py']\n"
        "model = dict(_scope_='mmrazor', type='SingleTeacherDistill',\n"
        "    architecture=dict(cfg_path='mmcls::resnet/resnet18_8xb32_in1k.py', pretrained=False),\n"
        "    teacher=dict(cfg_path='mmcls::resnet/resnet34_8xb32_in1k.py', pretrained=True))\n"))
    with pytest.warns(UserWarning, match='does not download'):
        cfg = Config.fromfile(cfg_file)
    assert cfg.train_dataloader.dataset.type == 'ImageNet' and cfg.default_scope == 'mmcls'
    assert cfg.optim_wrapper.optimizer.lr == 0.1
    student, teacher = cfg.model.architecture, cfg.model.teacher
    assert (student.backbone.depth, teacher.backbone.depth) == (18, 34)
    assert student.type == 'mmcls.ImageClassifier' and student._scope_ == 'mmcls'
    assert 'cfg_path' not in student and 'pretrained' not in teacher
    assert (MMCLS_CONFIGS / 'resnet' / 'resnet18_8xb32_in1k.py').is_file()


@pytest.mark.parametrize('path, match', [
    ('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', "mmdet's models \\(detection\\) are not part of razor_ext"),
    ('mmseg::pspnet/pspnet_r18.py', "mmseg's models \\(segmentation\\)"),
    ('mmpose::x.py', "mmpose's models"),
])
def test_out_of_scope_packages_are_one_line_errors(tmp_path: Path, path: str, match: str) -> None:
    cfg_file = write(tmp_path / 'det.py', f"_base_ = ['{path}']\n")
    with pytest.raises(ValueError, match=match) as info:
        Config.fromfile(cfg_file)
    assert '\n' not in str(info.value)
    with pytest.raises(ValueError, match=match):
        Config.fromfile(path)


def test_mmrazor_scope_without_a_checkout_says_how_to_get_one(tmp_path: Path, monkeypatch) -> None:
    from razor_ext.config import scopes
    monkeypatch.delenv('MMRAZOR_ROOT', raising=False)
    monkeypatch.delitem(scopes._SCOPES, 'mmrazor', raising=False)
    with pytest.raises(ValueError, match='MMRAZOR_ROOT'):
        Config.fromfile(write(tmp_path / 'n.py', "_base_ = ['mmrazor::_base_/settings/x.py']\n"))
