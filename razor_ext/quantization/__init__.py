"""Quantization: QConfig, prepare / calibrate, QDQ ONNX export, save / load.

Example:
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10))
    >>> q = prepare(model, torch.randn(1, 1, 8, 8), qconfig='w4a8')
    >>> _ = calibrate(q, [torch.randn(8, 1, 8, 8) for _ in range(2)])
    >>> q(torch.randn(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""
from razor_ext.models import fake_quants as _fake_quants  # noqa: F401  (registers)
from razor_ext.models import observers as _observers  # noqa: F401  (registers)
from razor_ext.models import quantizers as _quantizers  # noqa: F401  (registers)
from razor_ext.quantization.checkpoint import load, save
from razor_ext.quantization.onnx_qdq import export_onnx, fold_constant_quantize
from razor_ext.quantization.prepare import calibrate, prepare
from razor_ext.quantization.qconfig import PRESETS, QConfig, QScheme, as_qconfig
from razor_ext.quantization.switches import (enable_fake_quants, enable_observers, fake_quants,
                                             freeze_bn_stats, freeze_observers)

__all__ = ['PRESETS', 'QConfig', 'QScheme', 'as_qconfig', 'calibrate', 'enable_fake_quants',
           'enable_observers', 'export_onnx', 'fake_quants', 'fold_constant_quantize',
           'freeze_bn_stats', 'freeze_observers', 'load', 'prepare', 'save']
