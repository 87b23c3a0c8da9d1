"""The layout is the architecture (docs/architecture.md): import-linter contracts, no import cycles,
file and folder limits, and every public name reachable after ``import razor_ext`` alone."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

grimp = pytest.importorskip('grimp', reason='grimp (installed with import-linter) checks the layout')

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'razor_ext'
MAX_LINES = 500


def lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    """Run import-linter's contracts from ``cwd``/pyproject.toml on the razor_ext found first on
    ``pythonpath``."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    code = 'import sys; from importlinter.cli import lint_imports_command; lint_imports_command()'
    return subprocess.run([sys.executable, '-c', code, '--no-cache'], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_import_linter_contracts_hold() -> None:
    result = lint_imports(ROOT, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Contracts: 3 kept, 0 broken.' in result.stdout, result.stdout


@pytest.fixture(scope='module')
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the Python sources (no build) with pyproject.toml, to break on purpose."""
    work = tmp_path_factory.mktemp('layout')
    shutil.copytree(PACKAGE, work / 'razor_ext', ignore=shutil.ignore_patterns('__pycache__', '*.so'))
    shutil.copy(ROOT / 'pyproject.toml', work / 'pyproject.toml')
    return work


@pytest.mark.parametrize('module, forbidden, broken', [
    # a search function reaching up into the engine: a layer broken
    ('nas/search/evolution.py', 'from razor_ext.engine.runner import Runner',
     'razor_ext.nas.search.evolution -> razor_ext.engine.runner'),
    # one technique importing another: independence (and layers) broken
    ('distill/configurable_distiller.py', 'from razor_ext.pruning.prune import prune',
     'razor_ext.distill.configurable_distiller -> razor_ext.pruning.prune'),
    # shared machinery reaching up into a technique
    ('analysis/unit.py', 'import razor_ext.quantization.qconfig',
     'razor_ext.analysis.unit -> razor_ext.quantization.qconfig'),
    # a cycle inside one package: mutables <-> dynamic ops (named relative to razor_ext.supernet)
    ('supernet/mutables/base_mutable.py', 'import razor_ext.supernet.dynamic_ops.dynamic_mixin',
     '- .mutables -> .dynamic_ops (1 import)'),
])
def test_a_forbidden_import_breaks_a_contract_and_is_named(package_copy: Path, module: str,
                                                           forbidden: str, broken: str) -> None:
    path = package_copy / 'razor_ext' / module
    original = path.read_text()
    try:
        path.write_text(original + f'\n{forbidden}  # added by the test\n')
        result = lint_imports(package_copy, package_copy)
    finally:
        path.write_text(original)
    assert result.returncode != 0, result.stdout
    assert 'BROKEN' in result.stdout
    assert broken in result.stdout, result.stdout


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_between_any_two_modules() -> None:
    graph = grimp.build_graph('razor_ext', cache_dir=None)
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ('p', 'p.a', 'p.b', 'p.c'):
        graph.add_module(name)
    graph.add_import(importer='p.a', imported='p.b')
    graph.add_import(importer='p.b', imported='p.a')
    graph.add_import(importer='p.c', imported='p.a')
    assert _cycles(graph) == [['p.a', 'p.b']]


def test_files_stay_small_and_folders_shallow() -> None:
    long_files, deep = [], []
    for path in PACKAGE.rglob('*.py'):
        rel = path.relative_to(PACKAGE)
        # A clearly named data folder of config files (no __init__.py: not a Python package)
        # mirrors the layout of the configs it restates, e.g. architectures/mmcls_configs/.
        data_folder = next((rel.parts[:i + 1] for i, part in enumerate(rel.parts[:-1])
                            if part.endswith('_configs')), None)
        if data_folder and not any(PACKAGE.joinpath(*data_folder).rglob('__init__.py')):
            continue
        if len(rel.parts) > 3:  # <package>/<sub>/<file>.py at most
            deep.append(str(rel))
        lines = path.read_text().count('\n')
        if lines > MAX_LINES:
            long_files.append(f'{rel}: {lines} lines')
    assert long_files == [], f'files over {MAX_LINES} lines: {long_files}'
    assert deep == [], f'folders deeper than razor_ext/<package>/<sub>/: {deep}'


PUBLIC = ['razor_ext.prune', 'razor_ext.BaseAlgorithm', 'razor_ext.Config', 'razor_ext.build_info',
          'razor_ext.export.to_onnx', 'razor_ext.nas.SPOS', 'razor_ext.nas.NasMutator',
          'razor_ext.nas.export_fix_subnet', 'razor_ext.nas.load_fix_subnet',
          'razor_ext.pruning.prune', 'razor_ext.pruning.ChannelMutator',
          'razor_ext.distill.SingleTeacherDistill', 'razor_ext.distill.ConfigurableDistiller',
          'razor_ext.quantization.prepare', 'razor_ext.quantization.calibrate',
          'razor_ext.quantization.export_onnx', 'razor_ext.engine.Runner',
          'razor_ext.supernet.mutables.OneShotMutableOP', 'razor_ext.analysis.ChannelAnalyzer',
          'razor_ext.estimators.ResourceEstimator', 'razor_ext.architectures.ImageClassifier',
          'razor_ext.data.EmbeddedDigits', 'razor_ext.ops.fake_quantize']


def test_public_names_reachable_after_import_razor_ext_alone() -> None:
    """In a fresh interpreter, ``import razor_ext`` and attribute access reach every package and
    each name in every package's ``__all__``."""
    code = f'''
import importlib, pkgutil, razor_ext
for dotted in {PUBLIC!r}:
    obj = razor_ext
    for part in dotted.split('.')[1:]:
        obj = getattr(obj, part)
missing = []
for info in pkgutil.walk_packages(razor_ext.__path__, 'razor_ext.'):
    if not info.ispkg:
        continue
    module = importlib.import_module(info.name)
    missing += [f'{{info.name}}.{{name}}' for name in getattr(module, '__all__', [])
                if not hasattr(module, name)]
assert not missing, missing
print('ok')
'''
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.strip() == 'ok', result.stdout + result.stderr


def test_unknown_attribute_of_razor_ext_is_an_attribute_error() -> None:
    import razor_ext

    with pytest.raises(AttributeError, match='no attribute "models"'):
        razor_ext.models  # noqa: B018  (the old component-first package is gone)
