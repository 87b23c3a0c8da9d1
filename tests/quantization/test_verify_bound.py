"""``export_onnx(verify=True)``'s bound: one output step, or the requantization envelope where
larger (deep networks, float heads after int8 layers); a wrong file still fails."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import razor_ext.quantization.onnx_qdq as qdq
from razor_ext.export import OnnxVerificationError
from razor_ext.quantization import calibrate, export_onnx, prepare
from razor_ext.quantization.verify_bound import activation_quantizers, requantization_envelope


class Deep(nn.Module):
    """``depth`` quantized 3x3 convs, pooled, then a linear head."""

    def __init__(self, depth: int, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
        for layer in layers[::2]:  # He init: the signal survives all layers (a trained net's does)
            nn.init.kaiming_normal_(layer.weight, nonlinearity='relu')
        self.body = nn.Sequential(*layers)
        self.pool, self.flat = nn.AdaptiveAvgPool2d(1), nn.Flatten()
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.flat(self.pool(self.body(x))))


def _quantized(depth: int, skip: tuple[str, ...] = ()):
    torch.manual_seed(0)
    x = torch.randn(4, 3, 8, 8)
    q = prepare(Deep(depth).eval(), x, skip=skip)
    return calibrate(q, [torch.randn(8, 3, 8, 8) for _ in range(3)]).eval(), x


def _drifting_runtime(q, layers: slice, fraction: float, monkeypatch):
    """A runtime whose requantizations at the activation quantizers ``layers`` land one code
    away (up or down) on ``fraction`` of the values (fused int8 kernels near rounding ties)."""
    quantizers = activation_quantizers(q)[layers]
    gen = torch.Generator().manual_seed(1)

    def flip(m, args, out):
        mask = (torch.rand(out.shape, generator=gen) < fraction).to(out.dtype)
        signs = torch.randint(0, 2, out.shape, generator=gen).to(out.dtype) * 2 - 1
        return out + mask * signs * m.scale.max()

    def runtime(path, inputs, **kw):
        handles = [fq.register_forward_hook(flip) for fq in quantizers]
        try:
            with torch.no_grad():
                return [q(*inputs).numpy()]
        finally:
            for h in handles:
                h.remove()
    monkeypatch.setattr(qdq, 'onnxruntime_outputs', runtime)
    return runtime


def test_envelope_covers_one_output_step_and_float_heads():
    q, x = _quantized(24)
    step = qdq._output_steps(q, 1)[0]
    assert requantization_envelope(q, [x])[0] >= step > 0
    floathead, x = _quantized(6, skip=('head',))
    assert qdq._output_steps(floathead, 1)[0] == 0.0 and requantization_envelope(floathead, [x])[0] > 0
    assert requantization_envelope(nn.Linear(2, 2), [torch.randn(1, 2)]) == []  # not prepared


def test_intermediate_one_code_drift_of_a_deep_network_passes(tmp_path, monkeypatch):
    q, x = _quantized(24)
    run = _drifting_runtime(q, slice(0, -1), fraction=0.3, monkeypatch=monkeypatch)
    step = qdq._output_steps(q, 1)[0]
    with torch.no_grad():
        drift = np.abs(run(None, [x])[0] - q(x).numpy()).max()
    assert drift > 1.5 * step  # two steps away: the old one-step bound failed such files
    export_onnx(q, x, tmp_path / 'deep.onnx')


def test_float_head_after_int8_layers_passes_requantization_drift(tmp_path, monkeypatch):
    q, x = _quantized(6, skip=('head',))
    assert qdq._output_steps(q, 1)[0] == 0.0  # a float output: no output step
    run = _drifting_runtime(q, slice(-1, None), fraction=0.3, monkeypatch=monkeypatch)
    with torch.no_grad():
        drift = np.abs(run(None, [x])[0] - q(x).numpy()).max()
    assert drift > 2e-4  # over the old atol + rtol * |out| bound
    export_onnx(q, x, tmp_path / 'float_head.onnx')


@pytest.mark.parametrize('skip', [(), ('head',)])
def test_a_wrong_file_still_fails(tmp_path, monkeypatch, skip):
    q, x = _quantized(24, skip)
    with torch.no_grad():
        ref = q(x).numpy()
    # outputs off by a tenth of their range: a wrong scale somewhere, not rounding
    wrong = ref + 0.1 * (ref.max() - ref.min())
    monkeypatch.setattr(qdq, 'onnxruntime_outputs', lambda p, i, **kw: [wrong])
    with pytest.raises(OnnxVerificationError, match='output step'):
        export_onnx(q, x, tmp_path / 'wrong.onnx')
