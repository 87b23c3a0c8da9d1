"""Quantization: observers, fake quants, quantizers, QConfig presets, prepare / calibrate, QDQ ONNX
and OpenVINO export, save / load, and the quantization algorithm (``MMArchitectureQuant``) for PTQ / QAT / LSQ.

Example:
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10))
    >>> q = prepare(model, torch.randn(1, 1, 8, 8), qconfig='w4a8')
    >>> _ = calibrate(q, [torch.randn(8, 1, 8, 8) for _ in range(2)])
    >>> q(torch.randn(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""
from razor_ext.quantization import algorithms, fake_quantize, observers, quantizers
from razor_ext.quantization.algorithms import MMArchitectureQuant
from razor_ext.quantization.fake_quantize import FakeQuantize, LearnableFakeQuantize
from razor_ext.quantization.checkpoint import load, save
from razor_ext.quantization.mixed_precision import (BitWidthFakeQuantize, attach_bit_widths,
                                                    bit_width_layers, bit_width_qconfig,
                                                    detach_bit_widths)
from razor_ext.quantization.onnx_qdq import export_onnx, fold_constant_quantize, lacks_vnni
from razor_ext.quantization.openvino_ir import export_openvino
from razor_ext.quantization.prepare import calibrate, prepare
from razor_ext.quantization.qconfig import PRESETS, QConfig, QScheme, as_qconfig
from razor_ext.quantization.switches import (enable_fake_quants, enable_observers, fake_quants,
                                             freeze_bn_stats, freeze_observers)
from razor_ext.quantization.weight_only import (GPTQ, WeightOnlyQuantLinear, export_matmulnbits,
                                                gptq, load_weight_only, save_weight_only)

__all__ = ['lacks_vnni', 'BitWidthFakeQuantize', 'attach_bit_widths', 'bit_width_layers', 'bit_width_qconfig',
           'detach_bit_widths', 'FakeQuantize', 'LearnableFakeQuantize', 'MMArchitectureQuant', 'PRESETS', 'QConfig',
           'QScheme', 'algorithms', 'as_qconfig', 'calibrate', 'enable_fake_quants',
           'enable_observers', 'export_onnx', 'export_openvino', 'fake_quantize', 'fake_quants',
           'fold_constant_quantize', 'freeze_bn_stats', 'freeze_observers', 'load', 'observers',
           'prepare', 'quantizers', 'save']
__all__ += ['GPTQ', 'WeightOnlyQuantLinear', 'export_matmulnbits', 'gptq', 'load_weight_only',
            'save_weight_only']
from razor_ext.quantization import not_implemented  # noqa: E402,F401  (registers MMRazor names it lacks)
