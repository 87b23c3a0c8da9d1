"""lsq_fake_quantize against torch's learnable fake-quant ops (float32) and the reference
(float32 and float64): values, gradients of x, scale and zero point; layouts, errors, opcheck,
gradcheck, torch.compile."""
from __future__ import annotations

import pytest
import torch

from razor_ext.ops import lsq_fake_quantize, reference
from tests.ops.fake_quant_cases import CASES, channel_axes, make_qparams, make_x, torch_lsq


def _run(fn, x, scale, zero_point, *args, seed=5):
    leaves = [t.detach().clone().requires_grad_() for t in (x, scale, zero_point)]
    out = fn(*leaves, *args)
    g = torch.Generator().manual_seed(seed)
    grad_out = torch.randn(out.shape, generator=g, dtype=torch.float64).to(out.dtype)
    if out.numel() == 0:
        return out, [torch.zeros_like(t) for t in leaves]
    return out, list(torch.autograd.grad(out, leaves, grad_out))


def _assert_sums_close(got, want, terms_bound):
    # Sums of per-element terms: our order (thread partials of float lanes, double totals) differs
    # from torch's, so allow float rounding of the sum of |terms|.
    torch.testing.assert_close(got, want, rtol=0, atol=2e-6 * terms_bound + 1e-6)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("quant_range", [(-128, 127), (0, 255), (-8, 7)])
def test_float32_matches_torch(case, quant_range):
    qmin, qmax = quant_range
    x = make_x(case)
    for axis in channel_axes(x):
        if axis is not None and (x.shape[axis] == 0 or x.dim() == 1):
            continue  # torch's learnable per-channel op fails on zero channels and on 1-D x
        scale, zero_point = make_qparams(x, axis, qmin, qmax, learnable=True)
        gf = 0.37
        got, (gx, gs, gz) = _run(lsq_fake_quantize, x, scale, zero_point, qmin, qmax, axis, gf)
        want, (wx, ws, wz) = _run(torch_lsq, x, scale, zero_point, qmin, qmax, axis, gf)
        assert torch.equal(got, want), (case, axis)
        assert torch.equal(gx, wx), (case, axis)
        bound = float(x.abs().sum() / scale.min() + x.numel() * (qmax - qmin)) * gf * 4
        _assert_sums_close(gs, ws, bound)
        _assert_sums_close(gz, wz, float(x.numel() * scale.max()) * gf * 4)
        assert gs.shape == scale.shape and gz.shape == zero_point.shape


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", ["contiguous", "channels_last", "sliced", "odd", "large"])
def test_matches_reference(case, dtype):
    x = make_x(case, dtype)
    for axis in channel_axes(x):
        scale, zero_point = make_qparams(x, axis, -8, 7, learnable=True)
        got, grads = _run(lsq_fake_quantize, x, scale, zero_point, -8, 7, axis, 0.5)
        want, wants = _run(reference.lsq_fake_quantize, x, scale, zero_point, -8, 7, axis, 0.5)
        assert torch.equal(got, want), (case, axis)
        assert torch.equal(grads[0], wants[0])
        tol = 1e-9 if dtype == torch.float64 else 2e-6
        for g, w in zip(grads[1:], wants[1:]):
            torch.testing.assert_close(g, w, rtol=tol, atol=tol * x.numel())


def test_float64_keeps_double_precision_scale():
    # A scale that float32 cannot hold: float64 results must use it exactly.
    x = torch.linspace(-1, 1, 101, dtype=torch.float64)
    scale = torch.tensor([0.1 + 1e-12], dtype=torch.float64)
    got = lsq_fake_quantize(x, scale, torch.zeros(1, dtype=torch.float64), -128, 127)
    want = torch.round(x / scale).clamp(-128, 127) * scale
    torch.testing.assert_close(got, want, rtol=0, atol=1e-15)


def test_zero_point_outside_range_is_clamped_as_torch_does():
    x = make_x("contiguous")
    scale, zero_point = torch.tensor([0.05]), torch.tensor([300.0])
    got, (gx, gs, gz) = _run(lsq_fake_quantize, x, scale, zero_point, 0, 255)
    want, (wx, ws, wz) = _run(torch_lsq, x, scale, zero_point, 0, 255, None, 1.0)
    assert torch.equal(got, want) and torch.equal(gx, wx)
    torch.testing.assert_close(gz, wz)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_thread_counts_agree(thread_count, threads):
    thread_count(threads)
    x = make_x("large")
    scale, zero_point = make_qparams(x, 1, -128, 127, learnable=True)
    _, grads = _run(lsq_fake_quantize, x, scale, zero_point, -128, 127, 1, 1.0)
    _, wants = _run(torch_lsq, x, scale, zero_point, -128, 127, 1, 1.0)
    assert torch.equal(grads[0], wants[0])
    torch.testing.assert_close(grads[1], wants[1], rtol=1e-5, atol=1e-2)


def test_gradcheck_float64():
    # Finite differences agree with straight-through gradients only where those are true
    # derivatives of a smooth limit. x: on a grid much finer than gradcheck's step (scale 1e-11
    # against 1e-6) the staircase is the identity inside the range and flat beyond it. scale:
    # beyond the range out = (bound - zero_point) * scale exactly. LSQ's scale gradient inside
    # the range (round(x / s) - x / s) and its zero-point gradient are definitions, not
    # derivatives: test_float32_matches_torch and test_matches_reference check those.
    torch.manual_seed(0)
    qmin, qmax = -(1 << 24), 1 << 24
    zero = torch.zeros(1, dtype=torch.float64)
    x_fine = torch.cat([torch.rand(5, dtype=torch.float64) * 2e-4 - 1e-4,
                        torch.tensor([3e-4, -3e-4], dtype=torch.float64)]).requires_grad_()
    tiny = torch.tensor([1e-11], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda t: lsq_fake_quantize(t, tiny, zero, qmin, qmax), (x_fine,), eps=1e-6, atol=1e-4)
    x = torch.tensor([[5.0, -7.0, 9.0], [-3.0, 4.0, 8.0]], dtype=torch.float64)
    scales = torch.tensor([0.1, 0.2], dtype=torch.float64, requires_grad=True)
    zero_points = torch.tensor([2.0, -1.0], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda s: lsq_fake_quantize(x, s, zero_points, -8, 7, 0), (scales,))
    assert torch.autograd.gradcheck(
        lambda s: lsq_fake_quantize(x, s, zero, -8, 7), (scales[:1].detach().requires_grad_(),))


@pytest.mark.parametrize("axis", [None, 1])
def test_opcheck(axis):
    x = make_x("contiguous").requires_grad_()
    scale, zero_point = make_qparams(x, axis, -128, 127, learnable=True)
    scale.requires_grad_()
    zero_point.requires_grad_()
    torch.library.opcheck(torch.ops.razor_ext.lsq_fake_quantize.default,
                          (x, scale, zero_point, -128, 127, axis, 0.5))
    torch.library.opcheck(torch.ops.razor_ext.lsq_fake_quantize_backward.default,
                          (torch.randn_like(x), x.detach(), scale.detach(), zero_point.detach(),
                           -128, 127, axis, 0.5))


def test_torch_compile_fullgraph():
    x = make_x("channels_last").requires_grad_()
    scale, zero_point = make_qparams(x, 1, -8, 7, learnable=True)
    scale.requires_grad_()
    zero_point.requires_grad_()

    def step(t):
        return lsq_fake_quantize(t.relu(), scale, zero_point, -8, 7, axis=1, grad_factor=0.1).sum()

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    got = torch.autograd.grad(compiled(x), (x, scale, zero_point))
    want = torch.autograd.grad(step(x), (x, scale, zero_point))
    for g, w in zip(got, want):
        assert torch.equal(g, w)


def _bad_calls():
    x = torch.randn(2, 3, 4)
    s, z = torch.tensor([0.1]), torch.tensor([0.0])
    s3, z3 = torch.full((3,), 0.1), torch.zeros(3)
    return [
        (lambda: lsq_fake_quantize(x, s, z, 7, 7), ValueError, "quant_min must be less than quant_max"),
        (lambda: lsq_fake_quantize(x, torch.tensor([0.0]), z, -8, 7), ValueError, "scale must be positive"),
        (lambda: lsq_fake_quantize(x, torch.tensor([-0.1]), z, -8, 7), ValueError, "scale must be positive"),
        (lambda: lsq_fake_quantize(x, torch.tensor([float("nan")]), z, -8, 7), ValueError, "scale must be positive"),
        (lambda: lsq_fake_quantize(x, s, torch.tensor([float("inf")]), -8, 7), ValueError, "zero_point must be finite"),
        (lambda: lsq_fake_quantize(x, s3, z3, -8, 7, 5), IndexError, "axis=5 is out of range"),
        (lambda: lsq_fake_quantize(x, s3, z3, -8, 7, 0), ValueError, "scale must be 1-D with x.shape"),
        (lambda: lsq_fake_quantize(x, s3, z, -8, 7, 1), ValueError, "zero_point must be 1-D"),
        (lambda: lsq_fake_quantize(x, s3, z3, -8, 7), ValueError, "scale must hold one element"),
        (lambda: lsq_fake_quantize(x.long(), s, z, -8, 7), TypeError, "x must be a floating tensor"),
        (lambda: lsq_fake_quantize(x, s, z, -8, 7, grad_factor="1"), TypeError, "grad_factor must be a float"),
        (lambda: lsq_fake_quantize(x, s, z, -8, 7, grad_factor=float("nan")), ValueError, "grad_factor must be finite"),
    ]


@pytest.mark.parametrize("index", range(len(_bad_calls())))
def test_bad_input_names_the_argument(index):
    call, error, match = _bad_calls()[index]
    with pytest.raises(error, match=match):
        call()
