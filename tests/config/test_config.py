"""Tests for razor_ext.config: loading, inheritance, overrides, dumping."""
from __future__ import annotations

import copy
import json
import os
import pickle
import stat
from pathlib import Path

import pytest
import yaml

from razor_ext.config import Config, ConfigDict, ConfigParseError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding='utf-8')
    return path


# ---------------------------------------------------------------------------- loading
def test_load_py_keeps_public_values_only(tmp_path: Path) -> None:
    path = write(tmp_path / 'cfg.py', (
        'import math\n'
        'from collections import OrderedDict\n'
        '_scratch = 3\n'
        'def helper(x):\n'
        '    return x * 2\n'
        'width = helper(_scratch)\n'
        "model = dict(type='ResNet', depth=18, stages=(1, 2), pi=round(math.pi, 2))\n"
        "layers = [dict(type='Conv'), dict(type='BN')]\n"))
    cfg = Config.fromfile(path)
    assert cfg.to_dict() == {
        'width': 6,
        'model': {'type': 'ResNet', 'depth': 18, 'stages': (1, 2), 'pi': 3.14},
        'layers': [{'type': 'Conv'}, {'type': 'BN'}],
    }
    assert cfg.filename == str(path)


def test_load_yaml_and_json(tmp_path: Path) -> None:
    data = {'model': {'type': 'ResNet', 'depth': 50}, 'lr': 0.1, 'tags': ['a', 'b']}
    for name in ('a.yaml', 'b.yml'):
        write(tmp_path / name, yaml.safe_dump(data))
        assert Config.fromfile(tmp_path / name).to_dict() == data
    write(tmp_path / 'c.json', json.dumps(data))
    assert Config.fromfile(str(tmp_path / 'c.json')).to_dict() == data


def test_empty_yaml_is_empty_config(tmp_path: Path) -> None:
    assert len(Config.fromfile(write(tmp_path / 'e.yaml', ''))) == 0


def test_attribute_and_item_access(tmp_path: Path) -> None:
    cfg = Config.fromfile(write(tmp_path / 'c.py', (
        "model = dict(type='ResNet', head=dict(num_classes=10))\n"
        "stages = [dict(width=8)]\n")))
    assert cfg.model.type == cfg['model']['type'] == 'ResNet'
    assert cfg.model.head.num_classes == 10
    assert cfg.stages[0].width == 8  # dicts inside lists get attribute access too
    assert isinstance(cfg.model, ConfigDict)
    cfg.model.depth = 34
    cfg['optim'] = {'lr': 0.1}
    assert cfg.model['depth'] == 34 and cfg.optim.lr == 0.1
    assert 'model' in cfg and set(cfg) == {'model', 'stages', 'optim'}


def test_missing_attribute_names_the_key(tmp_path: Path) -> None:
    cfg = Config(dict(model=dict(type='ResNet')))
    with pytest.raises(AttributeError, match="'optimizer'"):
        cfg.optimizer
    with pytest.raises(AttributeError, match="'typo'.*Keys: \\['type'\\]"):
        cfg.model.typo
    with pytest.raises(AttributeError, match="Did you mean: 'type'"):
        cfg.model.typ
    assert not hasattr(cfg, 'nope')
    assert getattr(cfg.model, 'nope', 5) == 5


def test_setting_a_key_that_shadows_a_method_is_refused() -> None:
    cfg = Config()
    with pytest.raises(AttributeError, match='item access'):
        cfg.dump = 1
    cfg['dump'] = 1
    assert cfg['dump'] == 1 and callable(cfg.dump)


def test_config_dict_update_converts_nested() -> None:
    cd = ConfigDict()
    cd.update({'a': {'b': 1}})
    cd.setdefault('c', {'d': 2})
    assert cd.a.b == 1 and cd.c.d == 2
    assert isinstance(cd.copy(), ConfigDict)


def test_copy_and_pickle(tmp_path: Path) -> None:
    cfg = Config.fromfile(write(tmp_path / 'c.py', 'a = dict(b=[1, 2])\n'))
    for clone in (copy.deepcopy(cfg), pickle.loads(pickle.dumps(cfg))):
        assert clone.to_dict() == cfg.to_dict() and clone.filename == cfg.filename
        clone.a.b.append(3)
    assert cfg.a.b == [1, 2]


# ---------------------------------------------------------------------------- _base_
def test_base_single_relative_and_override(tmp_path: Path) -> None:
    write(tmp_path / 'base' / 'model.py',
          "model = dict(type='ResNet', depth=18, head=dict(num_classes=10, act='relu'))\n"
          "lr = 0.1\n")
    path = write(tmp_path / 'exp' / 'child.py',
                 "_base_ = '../base/model.py'\n"
                 "model = dict(depth=50, head=dict(num_classes=100))\n")
    cfg = Config.fromfile(path)
    assert cfg.to_dict() == {
        'model': {'type': 'ResNet', 'depth': 50, 'head': {'num_classes': 100, 'act': 'relu'}},
        'lr': 0.1,
    }
    assert '_base_' not in cfg


def test_base_list_across_formats(tmp_path: Path) -> None:
    write(tmp_path / 'model.yaml', 'model:\n  type: ResNet\n  depth: 18\n')
    write(tmp_path / 'sched.json', '{"optim": {"lr": 0.1, "momentum": 0.9}, "epochs": 10}')
    write(tmp_path / 'override.py', 'epochs = 20\n')
    path = write(tmp_path / 'exp.py', (
        "_base_ = ['model.yaml', 'sched.json', 'override.py']\n"
        "optim = dict(lr=0.01)\n"))
    assert Config.fromfile(path).to_dict() == {
        'model': {'type': 'ResNet', 'depth': 18},
        'optim': {'lr': 0.01, 'momentum': 0.9},
        'epochs': 20,  # later bases override earlier ones
    }


def test_base_chained_recursively_each_relative_to_its_file(tmp_path: Path) -> None:
    write(tmp_path / 'a' / 'b' / 'root.yaml', 'x: 1\ny: 1\nz: 1\n')
    write(tmp_path / 'a' / 'mid.yaml', '_base_: b/root.yaml\ny: 2\n')
    path = write(tmp_path / 'leaf.json', '{"_base_": "a/mid.yaml", "z": 3}')
    assert Config.fromfile(path).to_dict() == {'x': 1, 'y': 2, 'z': 3}


def test_diamond_inheritance_is_not_a_cycle(tmp_path: Path) -> None:
    write(tmp_path / 'common.py', 'x = 1\n')
    write(tmp_path / 'left.py', "_base_ = 'common.py'\nleft = 1\n")
    write(tmp_path / 'right.py', "_base_ = 'common.py'\nright = 1\n")
    path = write(tmp_path / 'top.py', "_base_ = ['left.py', 'right.py']\n")
    assert Config.fromfile(path).to_dict() == {'x': 1, 'left': 1, 'right': 1}


def test_base_cycle_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path / 'a.py', "_base_ = 'b.py'\n")
    write(tmp_path / 'b.py', "_base_ = 'a.py'\n")
    with pytest.raises(ValueError, match=r'Circular _base_.*a\.py -> .*b\.py -> .*a\.py'):
        Config.fromfile(tmp_path / 'a.py')


def test_self_base_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path / 'a.yaml', '_base_: ./a.yaml\n')
    with pytest.raises(ValueError, match='Circular'):
        Config.fromfile(tmp_path / 'a.yaml')


def test_missing_base_names_both_files(tmp_path: Path) -> None:
    path = write(tmp_path / 'child.py', "_base_ = 'nope.py'\n")
    with pytest.raises(FileNotFoundError, match=r'nope\.py.*child\.py'):
        Config.fromfile(path)


def test_bad_base_type(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match='_base_'):
        Config.fromfile(write(tmp_path / 'c.yaml', '_base_: 3\n'))


def test_delete_replaces_base_dict(tmp_path: Path) -> None:
    write(tmp_path / 'base.py', (
        "optim = dict(type='SGD', lr=0.1, momentum=0.9)\n"
        "model = dict(type='ResNet', head=dict(a=1, b=2))\n"))
    path = write(tmp_path / 'child.yaml', (
        '_base_: base.py\n'
        'optim: {_delete_: true, type: Adam, lr: 0.001}\n'
        'model:\n  head: {_delete_: true, c: 3}\n'))
    assert Config.fromfile(path).to_dict() == {
        'optim': {'type': 'Adam', 'lr': 0.001},
        'model': {'type': 'ResNet', 'head': {'c': 3}},
    }


def test_delete_without_base_is_stripped(tmp_path: Path) -> None:
    cfg = Config.fromfile(write(tmp_path / 'c.py', 'a = dict(_delete_=True, b=1)\n'))
    assert cfg.to_dict() == {'a': {'b': 1}}


def test_child_lists_and_scalars_replace(tmp_path: Path) -> None:
    write(tmp_path / 'base.py', 'xs = [1, 2, 3]\nd = dict(a=1)\n')
    path = write(tmp_path / 'c.py', "_base_ = 'base.py'\nxs = [9]\nd = 5\n")
    assert Config.fromfile(path).to_dict() == {'xs': [9], 'd': 5}


# ---------------------------------------------------------------------------- errors
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r'missing\.py'):
        Config.fromfile(tmp_path / 'missing.py')


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'\.toml'"):
        Config.fromfile(write(tmp_path / 'c.toml', 'a = 1\n'))


def test_py_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / 'bad.py', 'a = 1\nb = dict(x=1,\nc = 3 +\n')
    with pytest.raises(ConfigParseError) as info:
        Config.fromfile(path)
    assert info.value.filename == str(path)
    assert info.value.lineno is not None and info.value.lineno >= 2
    assert str(info.value).startswith(f'{path}:{info.value.lineno}: ')
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value.__cause__, SyntaxError)


def test_py_runtime_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / 'bad.py', 'a = 1\nb = undefined_name + 1\n')
    with pytest.raises(ConfigParseError, match=rf'{path}:2: NameError'):
        Config.fromfile(path)


def test_yaml_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / 'bad.yaml', 'a: 1\nb: 2\nc: [1, 2\nd: 4\n')
    with pytest.raises(ConfigParseError) as info:
        Config.fromfile(path)
    assert info.value.filename == str(path) and info.value.lineno == 4
    assert f'{path}:4:' in str(info.value)


def test_json_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / 'bad.json', '{\n  "a": 1,\n  "b": ,\n}\n')
    with pytest.raises(ConfigParseError, match=rf'{path}:3: JSON error'):
        Config.fromfile(path)


def test_non_mapping_top_level(tmp_path: Path) -> None:
    with pytest.raises(ConfigParseError, match='mapping'):
        Config.fromfile(write(tmp_path / 'list.json', '[1, 2]'))


def test_parse_error_pickles() -> None:
    err = pickle.loads(pickle.dumps(ConfigParseError('f.py', 3, 'oops')))
    assert (err.filename, err.lineno, str(err)) == ('f.py', 3, 'f.py:3: oops')


# ---------------------------------------------------------------------------- merge_from_dict
def test_merge_from_dict_dotted_keys() -> None:
    cfg = Config(dict(model=dict(type='ResNet', depth=18, head=dict(a=1))))
    cfg.merge_from_dict({'model.depth': 50, 'model.head.b': 2, 'optim.sgd.lr': 0.1,
                         'epochs': 3})
    assert cfg.to_dict() == {
        'model': {'type': 'ResNet', 'depth': 50, 'head': {'a': 1, 'b': 2}},
        'optim': {'sgd': {'lr': 0.1}},
        'epochs': 3,
    }
    assert cfg.optim.sgd.lr == 0.1  # created intermediates have attribute access


def test_merge_from_dict_dict_value_merges_and_honours_delete() -> None:
    cfg = Config(dict(model=dict(type='ResNet', depth=18)))
    cfg.merge_from_dict({'model': dict(depth=50)})
    assert cfg.model.to_dict() == {'type': 'ResNet', 'depth': 50}
    cfg.merge_from_dict({'model': dict(_delete_=True, type='MobileNet')})
    assert cfg.model.to_dict() == {'type': 'MobileNet'}


def test_merge_from_dict_list_index() -> None:
    cfg = Config(dict(stages=[dict(w=1), dict(w=2)]))
    cfg.merge_from_dict({'stages.1.w': 8, 'stages.-2.w': 4})
    assert cfg.to_dict() == {'stages': [{'w': 4}, {'w': 8}]}
    with pytest.raises(IndexError, match="'stages'"):
        cfg.merge_from_dict({'stages.5.w': 1})
    with pytest.raises(TypeError, match='index'):
        cfg.merge_from_dict({'stages.first.w': 1})


def test_merge_from_dict_through_a_scalar_is_an_error() -> None:
    cfg = Config(dict(lr=0.1))
    with pytest.raises(TypeError, match="'lr' is a float"):
        cfg.merge_from_dict({'lr.value': 1})
    assert cfg.lr == 0.1


# ---------------------------------------------------------------------------- dump
SAMPLE = {
    'model': {'type': 'ResNet', 'depth': 50, 'head': {'num_classes': 1000, 'dropout': None}},
    'optim': {'type': 'SGD', 'lr': 0.1, 'nesterov': True},
    'stages': [{'width': 64, 'blocks': 3}, {'width': 128, 'blocks': 4}],
    'name': "it's \"quoted\" — ünïcode",
    'ratio': 1e-8,
    'empty': {},
    'long_list': list(range(40)),
}


@pytest.mark.parametrize('ext', ['.py', '.yaml', '.yml', '.json'])
def test_dump_round_trip(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f'out{ext}'
    Config(SAMPLE).dump(path)
    assert Config.fromfile(path).to_dict() == SAMPLE


def test_dump_py_round_trips_tuples_and_non_finite(tmp_path: Path) -> None:
    data = {'shape': (1, 3), 'single': (5,), 'inf': float('inf'), 'ninf': float('-inf'),
            'keys': {1: 'int key', 'not-an-identifier': 2}}
    Config(data).dump(tmp_path / 'c.py')
    loaded = Config.fromfile(tmp_path / 'c.py').to_dict()
    assert loaded == data and isinstance(loaded['single'], tuple)


def test_dump_after_inheritance_round_trips(tmp_path: Path) -> None:
    write(tmp_path / 'base.yaml', 'model: {type: ResNet, depth: 18}\n')
    cfg = Config.fromfile(write(tmp_path / 'c.py', "_base_ = 'base.yaml'\nlr = 0.1\n"))
    cfg.dump(tmp_path / 'flat.json')
    assert Config.fromfile(tmp_path / 'flat.json').to_dict() == cfg.to_dict()


def test_dump_without_path_returns_text_in_source_format(tmp_path: Path) -> None:
    cfg = Config.fromfile(write(tmp_path / 'c.yaml', 'a: 1\n'))
    assert yaml.safe_load(cfg.dump()) == {'a': 1}
    assert Config(dict(a=1)).dump() == 'a = 1\n'


def test_dump_rejects_unrepresentable_values(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="'model.act'"):
        Config(dict(model=dict(act=object))).dump(tmp_path / 'c.yaml')
    with pytest.raises(TypeError, match="'k.1'"):
        Config(dict(k={1: 2})).dump(tmp_path / 'c.json')
    with pytest.raises(ValueError, match="'not-valid'"):
        Config({'not-valid': 1}).dump(tmp_path / 'c.py')
    assert list(tmp_path.iterdir()) == []


def test_dump_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='extension'):
        Config(dict(a=1)).dump(tmp_path / 'c.txt')


def test_dump_overwrites_and_keeps_permissions(tmp_path: Path) -> None:
    path = write(tmp_path / 'c.json', '{"a": 0}')
    os.chmod(path, 0o640)
    Config(dict(a=1)).dump(path)
    assert Config.fromfile(path).a == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ['c.json']


@pytest.mark.parametrize('failing', ['serializer', 'fsync', 'replace'])
def test_dump_failure_keeps_old_file_and_leaves_no_temp(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    path = tmp_path / 'c.yaml'
    Config(dict(a=1)).dump(path)
    before = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError('disk on fire')

    if failing == 'serializer':
        monkeypatch.setattr(yaml, 'safe_dump', boom)
    elif failing == 'fsync':  # fails after the new content was written to the temp file
        monkeypatch.setattr(os, 'fsync', boom)
    else:
        monkeypatch.setattr(os, 'replace', boom)
    with pytest.raises(OSError, match='disk on fire'):
        Config(dict(a=2, b=[1, 2, 3])).dump(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ['c.yaml']


def test_pretty_text_and_repr(tmp_path: Path) -> None:
    cfg = Config.fromfile(write(tmp_path / 'c.py', "model = dict(type='ResNet', depth=50)\n"))
    assert cfg.pretty_text == "model = dict(type='ResNet', depth=50)\n"
    assert str(tmp_path / 'c.py') in repr(cfg) and 'depth=50' in repr(cfg)
    # pretty_text shows values that cannot be dumped instead of failing
    assert 'object' in Config(dict(cls=object)).pretty_text


def test_scoped_config_paths_resolve_in_the_registered_folder(tmp_path):
    from razor_ext.config import register_scope, resolve_config_path

    shipped = tmp_path / 'shipped'
    (shipped / '_base_').mkdir(parents=True)
    (shipped / '_base_' / 'runtime.py').write_text("seed = 3\nlog = dict(interval=5)\n")
    register_scope('test_pkg', shipped)
    user = tmp_path / 'user.py'
    user.write_text("_base_ = ['test_pkg::_base_/runtime.py']\nlog = dict(interval=1)\n")
    cfg = Config.fromfile(user)
    assert (cfg.seed, cfg.log.interval) == (3, 1)
    assert Config.fromfile('test_pkg::_base_/runtime.py').seed == 3
    assert resolve_config_path('rel.py', tmp_path) == tmp_path / 'rel.py'
    with pytest.raises(ValueError, match=r'unknown config scope "nope::".*"test_pkg::"'):
        Config.fromfile('nope::x.py')
    with pytest.raises(KeyError, match='mapped to'):
        register_scope('test_pkg', tmp_path)
    register_scope('test_pkg', shipped)  # the same folder again is fine
