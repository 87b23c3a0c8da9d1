"""The examples in the quantization docstrings run and give what they show."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    'razor_ext.models.fake_quants.functional', 'razor_ext.models.fake_quants.fake_quantize',
    'razor_ext.models.fake_quants.learnable', 'razor_ext.models.observers.base',
    'razor_ext.models.observers.minmax', 'razor_ext.models.observers.histogram',
    'razor_ext.models.observers.lsq', 'razor_ext.models.quantizers.native',
    'razor_ext.models.quantizers.backends', 'razor_ext.models.quantizers.qat_modules',
    'razor_ext.quantization', 'razor_ext.quantization.qconfig', 'razor_ext.quantization.prepare',
    'razor_ext.quantization.checkpoint', 'razor_ext.models.algorithms.quantization.mm_architecture',
]


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
