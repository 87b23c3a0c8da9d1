"""The examples in the quantization docstrings run and give what they show."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    'razor_ext.quantization.functional', 'razor_ext.quantization.fake_quantize.fake_quantize',
    'razor_ext.quantization.fake_quantize.learnable', 'razor_ext.quantization.observers.base',
    'razor_ext.quantization.observers.minmax', 'razor_ext.quantization.observers.histogram',
    'razor_ext.quantization.observers.lsq', 'razor_ext.quantization.quantizers.native',
    'razor_ext.quantization.quantizers.backends', 'razor_ext.quantization.quantizers.qat_modules',
    'razor_ext.quantization', 'razor_ext.quantization.qconfig', 'razor_ext.quantization.prepare',
    'razor_ext.quantization.checkpoint', 'razor_ext.quantization.algorithms.mm_architecture',
]


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
