"""Tests for razor_ext.registry.Registry and the global registries."""
from __future__ import annotations

import copy
from typing import Any

import pytest
from torch import nn

from razor_ext.registry import HOOKS, LOOPS, MODELS, TASK_UTILS, Registry


class Widget:
    def __init__(self, size: int = 1, child: Any = None) -> None:
        self.size = size
        self.child = child


class Gadget:
    def __init__(self, depth: int) -> None:
        if depth < 0:
            raise ValueError(f'depth must be >= 0, got {depth}')
        self.depth = depth


@pytest.fixture
def reg() -> Registry:
    return Registry('toys')


def test_decorator_registers_under_class_name(reg: Registry) -> None:
    @reg.register_module()
    class Foo:
        pass

    assert reg.get('Foo') is Foo
    assert 'Foo' in reg and len(reg) == 1


def test_decorator_with_name_and_aliases(reg: Registry) -> None:
    @reg.register_module(name='Renamed')
    class Foo:
        pass

    @reg.register_module(name=['Bar', 'BarAlias'])
    class Bar:
        pass

    assert reg.get('Renamed') is Foo and reg.get('Foo') is None
    assert reg.get('Bar') is reg.get('BarAlias') is Bar
    assert len(reg) == 3


def test_call_form_returns_module(reg: Registry) -> None:
    assert reg.register_module(module=Widget) is Widget
    assert reg.register_module(module=Gadget, name='G') is Gadget
    assert dict(reg.module_dict) == {'Widget': Widget, 'G': Gadget}


def test_functions_can_be_registered_and_built(reg: Registry) -> None:
    @reg.register_module()
    def make_pair(a: int, b: int = 2) -> tuple[int, int]:
        return a, b

    assert reg.build(dict(type='make_pair', a=1)) == (1, 2)


def test_duplicate_name_raises_and_mentions_force(reg: Registry) -> None:
    reg.register_module(module=Widget, name='Thing')
    with pytest.raises(KeyError, match=r'"Thing" is already registered in registry "toys".*'
                                       r'force=True'):
        reg.register_module(module=Gadget, name='Thing')
    assert reg.get('Thing') is Widget  # unchanged after the failed call


def test_duplicate_in_alias_list_registers_nothing(reg: Registry) -> None:
    reg.register_module(module=Widget, name='Taken')
    with pytest.raises(KeyError):
        reg.register_module(module=Gadget, name=['Free', 'Taken'])
    assert 'Free' not in reg


def test_force_overrides(reg: Registry) -> None:
    reg.register_module(module=Widget, name='Thing')
    reg.register_module(module=Gadget, name='Thing', force=True)
    assert reg.get('Thing') is Gadget


def test_reregistering_same_object_is_a_noop(reg: Registry) -> None:
    reg.register_module(module=Widget)
    reg.register_module(module=Widget)
    assert len(reg) == 1


def test_decorator_without_parentheses_is_a_clear_error(reg: Registry) -> None:
    with pytest.raises(TypeError, match=r'register_module\(\)'):
        @reg.register_module  # type: ignore[arg-type]
        class Foo:
            pass


@pytest.mark.parametrize('bad', [3, [1], ''])
def test_bad_names_rejected(reg: Registry, bad: Any) -> None:
    with pytest.raises(TypeError):
        reg.register_module(module=Widget, name=bad)


def test_non_callable_rejected(reg: Registry) -> None:
    with pytest.raises(TypeError, match='toys'):
        reg.register_module(module=3, name='three')  # type: ignore[arg-type]


def test_module_dict_is_read_only(reg: Registry) -> None:
    reg.register_module(module=Widget)
    with pytest.raises(TypeError):
        reg.module_dict['X'] = Gadget  # type: ignore[index]


def test_get_unknown_returns_none_and_rejects_non_str(reg: Registry) -> None:
    assert reg.get('Nope') is None
    assert 3 not in reg
    with pytest.raises(TypeError):
        reg.get(3)  # type: ignore[arg-type]


def test_build_with_kwargs_and_default_args(reg: Registry) -> None:
    reg.register_module(module=Widget)
    w = reg.build(dict(type='Widget', size=5), child='default')
    assert (w.size, w.child) == (5, 'default')
    # cfg wins over default_args
    w = reg.build(dict(type='Widget', size=5), size=7)
    assert w.size == 5
    # default_args may even supply the type
    assert isinstance(reg.build({}, type='Widget'), Widget)


def test_build_accepts_class_as_type(reg: Registry) -> None:
    assert isinstance(reg.build(dict(type=nn.ReLU)), nn.ReLU)


def test_build_does_not_mutate_cfg_even_when_owner_pops_nested(reg: Registry) -> None:
    class Owner:
        def __init__(self, sub: dict[str, Any], items: list[dict[str, Any]]) -> None:
            self.sub_type = sub.pop('type')  # owners often pop from their nested configs
            items[0].pop('k')

    reg.register_module(module=Owner)
    cfg = dict(type='Owner', sub=dict(type='X', a=1), items=[dict(k=1)])
    snapshot = copy.deepcopy(cfg)
    reg.build(cfg)
    assert cfg == snapshot


def test_build_passes_objects_by_reference(reg: Registry) -> None:
    reg.register_module(module=Widget)
    module = nn.Linear(2, 2)
    assert reg.build(dict(type='Widget', child=module)).child is module
    assert reg.build(dict(type='Widget', child=[module])).child[0] is module


def test_build_does_not_build_nested_configs(reg: Registry) -> None:
    reg.register_module(module=Widget)
    w = reg.build(dict(type='Widget', child=dict(type='Widget', size=3)))
    assert w.child == dict(type='Widget', size=3)


def test_build_unknown_type_names_registry_and_close_matches(reg: Registry) -> None:
    reg.register_module(module=Widget)
    reg.register_module(module=Widget, name='WidgetV2')
    reg.register_module(module=Gadget, name='Quantizer')
    with pytest.raises(KeyError) as info:
        reg.build(dict(type='Widgett'))
    msg = str(info.value)
    assert '"Widgett"' in msg and '"toys"' in msg
    assert '"Widget"' in msg and '"WidgetV2"' in msg
    assert 'Quantizer' not in msg  # only close names are suggested


def test_build_unknown_type_without_close_match_lists_names(reg: Registry) -> None:
    reg.register_module(module=Widget)
    with pytest.raises(KeyError, match='Known names: "Widget"'):
        reg.build(dict(type='Zzzzzz'))


def test_build_non_dict_cfg_is_type_error(reg: Registry) -> None:
    with pytest.raises(TypeError, match='dict'):
        reg.build('Widget')  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='dict'):
        reg.build(None)  # type: ignore[arg-type]


def test_build_missing_type_is_key_error(reg: Registry) -> None:
    with pytest.raises(KeyError, match='"type"'):
        reg.build(dict(size=3))


def test_build_bad_type_value(reg: Registry) -> None:
    with pytest.raises(TypeError, match='"type"'):
        reg.build(dict(type=3))


def test_constructor_error_keeps_type_names_class_and_registry(reg: Registry) -> None:
    reg.register_module(module=Gadget)
    with pytest.raises(ValueError) as info:
        reg.build(dict(type='Gadget', depth=-1))
    msg = str(info.value)
    assert 'Gadget' in msg and '"toys"' in msg and 'depth must be >= 0' in msg
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value.__cause__) == 'depth must be >= 0, got -1'


def test_constructor_unexpected_kwarg_is_type_error(reg: Registry) -> None:
    reg.register_module(module=Gadget)
    with pytest.raises(TypeError, match=r'Gadget \(registry "toys"\).*width'):
        reg.build(dict(type='Gadget', depth=1, width=2))


def test_constructor_error_with_unusual_exception_type_keeps_original(reg: Registry) -> None:
    class Odd(Exception):
        def __init__(self, code: int, why: str) -> None:
            super().__init__(code, why)

    def factory() -> None:
        raise Odd(3, 'boom')

    reg.register_module(module=factory)
    with pytest.raises(Odd) as info:
        reg.build(dict(type='factory'))
    assert any('factory' in note and 'toys' in note for note in info.value.__notes__)


def test_parent_lookup(reg: Registry) -> None:
    reg.register_module(module=Widget)
    child = Registry('child', parent=reg)
    child.register_module(module=Gadget)
    assert child.get('Widget') is Widget and 'Widget' in child
    assert reg.get('Gadget') is None
    assert len(child) == 1
    assert isinstance(child.build(dict(type='Widget')), Widget)
    with pytest.raises(KeyError, match='"child" or its parents'):
        child.build(dict(type='Widgit'))


def test_repr_lists_names(reg: Registry) -> None:
    reg.register_module(module=Widget)
    text = repr(reg)
    assert "'toys'" in text and 'Widget' in text and '1 items' in text


def test_locations_are_imported_lazily() -> None:
    # 'json' stands in for a module that registers things; import failures surface.
    assert len(Registry('lazy', locations=['json'])) == 0
    broken = Registry('broken', locations=['razor_ext_no_such_module'])
    with pytest.raises(ModuleNotFoundError):
        broken.get('X')


def test_global_registries() -> None:
    assert [r.name for r in (MODELS, TASK_UTILS, LOOPS, HOOKS)] == [
        'models', 'task_utils', 'loops', 'hooks']
    # MODELS imports the packages that register into it on first lookup, so this works without importing it.
    assert 'BaseAlgorithm' in MODELS
