"""FakeQuantize's QAT step with a moving-average observer runs the fused observe+quantize op and
gives what the unfused path (observe, recompute qparams, quantize) gives."""
from __future__ import annotations

import pytest
import torch

from razor_ext.quantization.fake_quantize import FakeQuantize
from razor_ext.quantization.observers.base import ObserverError


def _pair(**kwargs: object) -> tuple[FakeQuantize, FakeQuantize]:
    per_channel = kwargs.get('ch_axis') is not None
    obs = dict(type='MovingAveragePerChannelMinMaxObserver' if per_channel else
               'MovingAverageMinMaxObserver', averaging_constant=0.25)
    return FakeQuantize(dict(obs), **kwargs), FakeQuantize(dict(obs), **kwargs)


def _unfused(fq: FakeQuantize, x: torch.Tensor) -> torch.Tensor:
    # Bypass the fused route: observe, then quantize with the recomputed qparams.
    fq.activation_post_process(x.detach())
    fq._stale = True
    fq.sync_qparams()
    return fq._quantize(x)


@pytest.mark.parametrize('kwargs', [dict(quant_min=0, quant_max=255),
                                    dict(quant_min=-128, quant_max=127, symmetric=True),
                                    dict(quant_min=-8, quant_max=7, symmetric=True, ch_axis=0),
                                    dict(quant_min=0, quant_max=15, ch_axis=1)])
def test_fused_step_matches_unfused_values_state_and_grads(kwargs: dict) -> None:
    torch.manual_seed(0)
    fused, plain = _pair(**kwargs)
    assert fused._can_fuse(torch.randn(2, 3))
    for step in range(4):
        x = (torch.randn(6, 5, 3) * (step + 1)).requires_grad_()
        x2 = x.detach().clone().requires_grad_()
        y, y2 = fused(x), _unfused(plain, x2)
        torch.testing.assert_close(y, y2, rtol=0, atol=1e-6)
        y.square().sum().backward()
        y2.square().sum().backward()
        torch.testing.assert_close(x.grad, x2.grad, rtol=0, atol=1e-5)
        for name in ('min_val', 'max_val'):
            torch.testing.assert_close(getattr(fused.activation_post_process, name),
                                       getattr(plain.activation_post_process, name))
        torch.testing.assert_close(fused.scale, plain.scale)
        torch.testing.assert_close(fused.zero_point, plain.zero_point)


def test_fused_and_unfused_forwards_alternate_without_resetting_the_range() -> None:
    fq, _ = _pair(quant_min=0, quant_max=255)
    fq(torch.tensor([0.0, 4.0]))                  # fused: first observation taken as is
    fq.disable_fake_quant()
    fq(torch.tensor([0.0, 8.0]))                  # unfused observation: 4 + 0.25 * (8 - 4)
    fq.enable_fake_quant()
    fq(torch.tensor([0.0, 1.0]))                  # fused again: 5 + 0.25 * (1 - 5)
    assert fq.activation_post_process.max_val.item() == pytest.approx(4.0)
    assert fq.scale.item() == pytest.approx(4.0 / 255)


def test_fused_step_errors_name_the_module() -> None:
    fq, _ = _pair(quant_min=0, quant_max=255)
    fq.module_name = 'backbone.conv1'
    with pytest.raises(ObserverError, match='backbone.conv1'):
        fq(torch.tensor([1.0, float('nan')]))
    with pytest.raises(ObserverError, match='backbone.conv1.*empty'):
        fq(torch.empty(0))


def test_fused_step_compiles() -> None:
    fq, plain = _pair(quant_min=0, quant_max=255)
    x = torch.randn(4, 8)
    torch.testing.assert_close(torch.compile(fq)(x), _unfused(plain, x), rtol=0, atol=1e-6)
    assert bool(fq.calibrated)


def test_qat_forward_calls_the_fused_op_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from razor_ext import ops
    calls = []
    real = ops.fused_observe_fake_quantize
    monkeypatch.setattr(ops, 'fused_observe_fake_quantize',
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    fq, _ = _pair(quant_min=0, quant_max=255)
    fq(torch.randn(3, 3))
    fq.disable_observer()
    fq(torch.randn(3, 3))                         # frozen qparams: the plain fake quant
    assert calls == [1]
