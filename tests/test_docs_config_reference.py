"""docs/config_reference.md names every top-level config key the runner reads, every registered
loop and hook, and every argument of each, so the page cannot go stale silently: the keys are
read from the engine's source (``cfg.get('x')`` / ``cfg['x']`` on the config), the loops and
hooks from the registries, their arguments from their signatures."""
from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from razor_ext.engine.hooks.hook import Hook
from razor_ext.engine.loops.base import BaseLoop
from razor_ext.registry import HOOKS, LOOPS

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / 'docs' / 'config_reference.md').read_text(encoding='utf-8')
# Where the top-level config is read: the runner itself (``cfg``), and anything holding the
# runner (``runner.cfg``, ``self.runner.cfg``).
RUNNER_FILES = [ROOT / 'razor_ext' / 'engine' / 'runner.py', ROOT / 'razor_ext' / 'engine' / 'model_defaults.py']
RUNNER_USERS = sorted((ROOT / 'razor_ext' / 'engine').rglob('*.py')) + sorted((ROOT / 'razor_ext' / 'commands').glob('*.py'))


def _is_config(node: ast.AST, bare_name: bool) -> bool:
    """``cfg`` (in the runner's own files), or ``<anything>.runner.cfg`` / ``runner.cfg``."""
    if isinstance(node, ast.Name):
        return bare_name and node.id == 'cfg'
    if isinstance(node, ast.Attribute) and node.attr == 'cfg':
        value = node.value
        return ((isinstance(value, ast.Name) and value.id in ('runner', 'self') and
                 (bare_name or value.id == 'runner')) or
                (isinstance(value, ast.Attribute) and value.attr == 'runner'))
    return False


def keys_read(path: Path, bare_name: bool) -> set[str]:
    keys = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ('get', 'pop') and _is_config(node.func.value, bare_name)
                and node.args and isinstance(node.args[0], ast.Constant)):
            keys.add(node.args[0].value)
        if (isinstance(node, ast.Subscript) and _is_config(node.value, bare_name)
                and isinstance(node.slice, ast.Constant)):
            keys.add(node.slice.value)
    return {k for k in keys if isinstance(k, str)}


def runner_keys() -> set[str]:
    keys = set()
    for path in RUNNER_FILES:
        keys |= keys_read(path, bare_name=True)
    for path in RUNNER_USERS:
        keys |= keys_read(path, bare_name=False)
    # The runner's loop builder reads the loop dict's own keys under the name ``cfg`` too.
    return keys - {'type'}


def named_in_page(word: str, text: str = PAGE) -> bool:
    """``word`` inside a code span of ``text`` (`x`, `x=...`, `dict(x=...)`)."""
    return re.search(rf'`[^`\n]*(?<![\w.]){re.escape(word)}(?!\w)[^`\n]*`', text) is not None


def test_the_scan_finds_the_keys_it_should():
    # A guard on the AST scan itself: if it stopped finding these, the test below would pass
    # vacuously.
    assert {'model', 'train_cfg', 'optim_wrapper', 'randomness', 'launcher', 'load_from',
            'resume', 'data_preprocessor', 'train_dataloader'} <= runner_keys()


@pytest.mark.parametrize('key', sorted(runner_keys()))
def test_every_key_the_runner_reads_is_documented(key):
    assert named_in_page(key), f'docs/config_reference.md does not name the config key {key!r}'


def _row(name: str) -> str:
    rows = [line for line in PAGE.splitlines() if line.startswith(f'| `{name}`')]
    assert rows, f'docs/config_reference.md has no table row for {name}'
    return rows[0]


def _arguments(cls: type) -> list[str]:
    skip = {'self', 'runner', 'dataloader', 'args', 'kwargs'}
    return [p for p in inspect.signature(cls.__init__).parameters if p not in skip]


def _ported(registry, base: type) -> list[tuple[str, type]]:
    out = []
    for name in sorted(registry.keys()):
        obj = registry.get(name)
        if '.' not in name and isinstance(obj, type) and issubclass(obj, base):
            out.append((name, obj))
    return out


@pytest.mark.parametrize('registry', [LOOPS, HOOKS], ids=['loops', 'hooks'])
def test_every_registered_name_is_on_the_page(registry):
    missing = [n for n in registry.keys() if '.' not in n and not named_in_page(n)]
    assert not missing, f'docs/config_reference.md does not name {missing}'


@pytest.mark.parametrize('name,cls', _ported(LOOPS, BaseLoop) + _ported(HOOKS, Hook),
                         ids=[n for n, _ in _ported(LOOPS, BaseLoop) + _ported(HOOKS, Hook)])
def test_every_argument_of_a_loop_or_hook_is_in_its_row(name, cls):
    if not _arguments(cls):
        return  # MMEngine's no-op hooks take **kwargs only; the page names them in prose
    row = _row(name)
    missing = [a for a in _arguments(cls) if not named_in_page(a, row)]
    assert not missing, f'the row of {name} does not name its arguments {missing}'


def test_the_scan_would_catch_an_undocumented_key(tmp_path):
    source = tmp_path / 'runner.py'
    source.write_text("def f(cfg, runner):\n    cfg.get('brand_new_key')\n    runner.cfg['other']\n")
    assert keys_read(source, bare_name=True) == {'brand_new_key', 'other'}
    assert not named_in_page('brand_new_key')
