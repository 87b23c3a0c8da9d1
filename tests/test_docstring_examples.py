"""Every ``Example:`` in the package's docstrings runs and prints what it shows (the docs are
part of the API: a stale example is a bug)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import razor_ext

MODULES = sorted(m.name for m in pkgutil.walk_packages(razor_ext.__path__, 'razor_ext.')
                 if not m.name.endswith('__main__'))


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0, f'{result.failed} of {result.attempted} docstring examples in {name} failed'
