"""fused_observe_fake_quantize: state updates against torch.ao's observers and the reference,
in-place semantics, the observe / fake-quant switches, NaN handling, opcheck, torch.compile."""
from __future__ import annotations

import pytest
import torch
from torch.ao.quantization.observer import (
                                            MovingAverageMinMaxObserver,
                                            MovingAveragePerChannelMinMaxObserver,
                                            )

from razor_ext.ops import fake_quantize, fused_observe_fake_quantize, reference
from tests.ops.fake_quant_cases import make_x


def _state(channels: int = 1, zp_dtype=torch.int32):
    return (torch.full((channels,), float("inf")), torch.full((channels,), float("-inf")),
            torch.ones(channels), torch.zeros(channels, dtype=zp_dtype))


def _batches(n=4, case="contiguous"):
    return [make_x(case, seed=s) * (1 + s) + 0.3 * s for s in range(n)]


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("quant_range", [(0, 255), (-128, 127)])
def test_per_tensor_matches_torch_ao_observer(symmetric, quant_range):
    qmin, qmax = quant_range
    qscheme = torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine
    dtype = torch.quint8 if qmin == 0 else torch.qint8
    observer = MovingAverageMinMaxObserver(averaging_constant=0.1, dtype=dtype, qscheme=qscheme)
    state = _state()
    for x in _batches():
        out = fused_observe_fake_quantize(x, *state, qmin, qmax, None, 0.1, symmetric)
        observer(x)
        scale, zero_point = observer.calculate_qparams()
        torch.testing.assert_close(state[0], observer.min_val.reshape(1), rtol=0, atol=0)
        torch.testing.assert_close(state[1], observer.max_val.reshape(1), rtol=0, atol=0)
        if symmetric and qmin == 0:
            zero_point = torch.tensor([128])  # torch.ao's quint8 default; ours: (qmin+qmax+1)//2
        assert torch.equal(state[2], scale.float())
        assert torch.equal(state[3].long(), zero_point.long())
        assert torch.equal(out, torch.fake_quantize_per_tensor_affine(
            x, float(scale), int(zero_point), qmin, qmax))


@pytest.mark.parametrize("case", ["contiguous", "channels_last"])
def test_per_channel_matches_torch_ao_observer(case):
    observer = MovingAveragePerChannelMinMaxObserver(averaging_constant=0.2, ch_axis=1,
                                                     dtype=torch.quint8)
    state = _state(6)
    for x in _batches(3, case):
        out = fused_observe_fake_quantize(x, *state, 0, 255, axis=1, averaging_constant=0.2)
        observer(x)
        scale, zero_point = observer.calculate_qparams()
        torch.testing.assert_close(state[0], observer.min_val, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(state[1], observer.max_val, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(state[2], scale, rtol=1e-6, atol=0)
        assert (state[3].long() - zero_point.long()).abs().max() <= 1
        assert torch.equal(out, fake_quantize(x, state[2], state[3], 0, 255, axis=1))


@pytest.mark.parametrize("axis", [None, 0, -1])
@pytest.mark.parametrize("symmetric", [False, True])
def test_matches_reference(axis, symmetric):
    channels = 1 if axis is None else make_x("contiguous").shape[axis]
    state = _state(channels)
    ref_min, ref_max = state[0].clone(), state[1].clone()
    for x in _batches(3):
        fused_observe_fake_quantize(x, *state, -8, 7, axis, 0.3, symmetric)
        ref_min, ref_max, scale, zero_point = reference.observe_qparams(
            x, ref_min, ref_max, -8, 7, axis, 0.3, symmetric)
        torch.testing.assert_close(state[0], ref_min, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(state[1], ref_max, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(state[2], scale, rtol=1e-5, atol=0)
        assert (state[3].float() - zero_point).abs().max() <= 1


def test_switches_and_in_place_state():
    x = make_x("contiguous").requires_grad_()
    state = _state(zp_dtype=torch.int64)
    ids = [t.data_ptr() for t in state]
    out = fused_observe_fake_quantize(x, *state, 0, 255)
    assert [t.data_ptr() for t in state] == ids  # updated in place
    frozen = [t.clone() for t in state]
    out2 = fused_observe_fake_quantize(x * 5, *state, 0, 255, observe=False)
    assert all(torch.equal(a, b) for a, b in zip(frozen, state))
    assert torch.equal(out2, fake_quantize(x * 5, state[2], state[3], 0, 255))
    same = fused_observe_fake_quantize(x, *state, 0, 255, fake_quant=False)
    assert same is x
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert set(grad.unique().tolist()) <= {0.0, 1.0}


def test_nan_raises_and_keeps_state():
    state = _state()
    fused_observe_fake_quantize(make_x("contiguous"), *state, 0, 255)
    before = [t.clone() for t in state]
    x = make_x("contiguous")
    x[0, 1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="x holds NaN or Inf"):
        fused_observe_fake_quantize(x, *state, 0, 255)
    assert all(torch.equal(a, b) for a, b in zip(before, state))


def test_empty_x_leaves_state_alone():
    state = _state()
    out = fused_observe_fake_quantize(torch.empty(0, 3), *state, 0, 255)
    assert out.shape == (0, 3) and torch.isinf(state[0]).all()


def test_opcheck():
    x = make_x("contiguous")
    state = _state(6)
    torch.library.opcheck(torch.ops.razor_ext.observe_qparams_.default,
                          (x, *state, 0, 255, 1, 0.1, False))


def test_torch_compile_fullgraph_updates_state():
    eager_state, compiled_state = _state(6), _state(6)

    def step(t, state):
        return fused_observe_fake_quantize(t, *state, 0, 255, axis=1, averaging_constant=0.5)

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    for x in _batches(3):
        want = step(x, eager_state)
        got = compiled(x, compiled_state)
        assert torch.equal(got, want)
    for a, b in zip(eager_state, compiled_state):
        assert torch.equal(a, b)


def _bad_calls():
    x = torch.randn(2, 3, 4)
    return [
        (lambda: fused_observe_fake_quantize(x, *_state(), 5, 5), ValueError, "quant_min must be less"),
        (lambda: fused_observe_fake_quantize(x, *_state(2), 0, 255, axis=1), ValueError,
         r"running_min must hold 3 element"),
        (lambda: fused_observe_fake_quantize(x, *_state(), 0, 255, averaging_constant=0.0), ValueError,
         "averaging_constant must lie in"),
        (lambda: fused_observe_fake_quantize(x, *_state(), 0, 255, axis=4), IndexError, "axis=4"),
        (lambda: fused_observe_fake_quantize(x.int(), *_state(), 0, 255), TypeError, "x must be a floating"),
        (lambda: fused_observe_fake_quantize(x, torch.zeros(1, dtype=torch.float64), *_state()[1:], 0, 255),
         TypeError, "running_min must be float32"),
        (lambda: fused_observe_fake_quantize(x, *_state()[:3], torch.zeros(1, dtype=torch.bool), 0, 255),
         TypeError, "zero_point must be int32, int64 or float32"),
        (lambda: fused_observe_fake_quantize(x, 1.0, *_state()[1:], 0, 255), TypeError,
         "running_min must be a torch.Tensor"),
    ]


@pytest.mark.parametrize("index", range(len(_bad_calls())))
def test_bad_input_names_the_argument(index):
    call, error, match = _bad_calls()[index]
    with pytest.raises(error, match=match):
        call()


def test_torch_compile_default_backend():
    # Inductor too: the in-place state op is functionalized and written back, the fake quant
    # stays our kernel.
    eager_state, compiled_state = _state(6), _state(6)

    def step(t, state):
        return fused_observe_fake_quantize(t.relu(), *state, 0, 255, axis=1)

    compiled = torch.compile(step, fullgraph=True)
    for x in _batches(2):
        assert torch.equal(compiled(x, compiled_state), step(x, eager_state))
    for a, b in zip(eager_state, compiled_state):
        assert torch.equal(a, b)
