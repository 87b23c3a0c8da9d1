"""Fake quants: an observer plus fake quantization (MMRazor's names)."""
from razor_ext.quantization.fake_quantize.fake_quantize import FakeQuantize, build_observer
from razor_ext.quantization.functional import fake_quantize, lsq_fake_quantize
from razor_ext.quantization.fake_quantize.learnable import LearnableFakeQuantize

__all__ = ['FakeQuantize', 'LearnableFakeQuantize', 'build_observer', 'fake_quantize',
           'lsq_fake_quantize']
