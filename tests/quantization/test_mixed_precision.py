"""Quantization-aware training under torch.autocast: the layer after a fake quant runs in
bfloat16, so the next fake quant receives bfloat16 activations."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from razor_ext import quantization


@pytest.mark.parametrize("preset", ["int8_per_channel", "lsq_int8", "histogram_int8", "w4a8"])
def test_qat_step_under_autocast(preset):
    # The fake quants run in float32 there (as ATen's fake quant does) and every parameter gets a
    # finite float32 gradient.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8 * 64, 10))
    x = torch.randn(4, 3, 8, 8)
    qat = quantization.prepare(model, x, qconfig=preset, mode="qat").train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = qat(x)
    y.float().square().mean().backward()
    grads = [p.grad for p in qat.parameters() if p.requires_grad]
    assert grads and all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all()
                         for g in grads)
