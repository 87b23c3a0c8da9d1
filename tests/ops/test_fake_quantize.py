"""fake_quantize against torch's fake-quant ops (bit for bit, values and gradients) and the
reference: layouts, dtypes, NaN/Inf, threads, errors, opcheck, gradcheck, torch.compile."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from razor_ext.ops import (fake_quantize, fused_observe_fake_quantize, lsq_fake_quantize,
                           reference)
from tests.ops.fake_quant_cases import (
                                        CASES,
                                        RANGES,
                                        channel_axes,
                                        make_qparams,
                                        make_x,
                                        torch_fake_quantize,
                                        )


def _run(fn, x, *args):
    leaf = x.detach().clone().requires_grad_()
    out = fn(leaf, *args)
    grad_out = torch.randn_like(out)
    (grad,) = torch.autograd.grad(out, leaf, grad_out) if out.numel() else (torch.zeros_like(leaf),)
    return out, grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("quant_range", RANGES)
def test_matches_torch_and_reference_bit_for_bit(case, dtype, quant_range):
    qmin, qmax = quant_range
    x = make_x(case, dtype)
    for axis in channel_axes(x):
        scale, zero_point = make_qparams(x, axis, qmin, qmax)
        s = float(scale) if axis is None else scale
        z = int(zero_point) if axis is None else zero_point
        torch.manual_seed(3)
        got, got_grad = _run(fake_quantize, x, s, z, qmin, qmax, axis)
        torch.manual_seed(3)
        want, want_grad = _run(torch_fake_quantize, x, s, z, qmin, qmax, axis)
        torch.manual_seed(3)
        ref, ref_grad = _run(reference.fake_quantize, x, s, z, qmin, qmax, axis)
        assert got.dtype == dtype and got.shape == x.shape
        assert torch.equal(got, want), (case, axis)
        assert torch.equal(got_grad, want_grad), (case, axis)
        assert torch.equal(got, ref) and torch.equal(got_grad, ref_grad), (case, axis)
        if x.numel():
            inside = (got_grad != 0).float().mean()
            assert 0.0 < inside < 1.0 or qmax - qmin < 20  # both regions are exercised


def test_channels_last_is_kept_without_a_copy():
    x = make_x("channels_last")
    scale, zero_point = make_qparams(x, 1, -128, 127)
    out = fake_quantize(x, scale, zero_point, -128, 127, axis=1)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert out.stride() == x.stride()


@pytest.mark.parametrize("axis", [None, 0])
def test_nan_and_inf_follow_torch(axis):
    # Per tensor torch clamps q as a float (+Inf -> quant_max); per channel it casts q to int64
    # first, so NaN, +-Inf and huge values all land on quant_min. Gradients are 0 for all.
    x = torch.tensor([[float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 2.5, 3.5, 1e10]])
    scale = torch.tensor([0.5])
    zero_point = torch.tensor([3], dtype=torch.int32)
    s, z = (0.5, 3) if axis is None else (scale, zero_point)
    got, got_grad = _run(fake_quantize, x, s, z, 0, 255, axis)
    want, want_grad = _run(torch_fake_quantize, x, s, z, 0, 255, axis)
    assert torch.equal(got, want)
    assert torch.equal(got_grad == 0, want_grad == 0)
    expected_inf = 126.0 if axis is None else -1.5
    assert got[0, 1].item() == expected_inf
    assert got[0, 0].item() == -1.5


def test_rounds_half_to_even():
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5])
    assert fake_quantize(x, 1.0, 0, -128, 127).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0]


def test_floating_zero_point_is_rounded_half_to_even():
    x = torch.linspace(-3, 3, 25).reshape(1, 25)
    got = fake_quantize(x, torch.tensor([0.1]), torch.tensor([2.5]), -128, 127, axis=0)
    want = fake_quantize(x, torch.tensor([0.1]), torch.tensor([2], dtype=torch.int32), -128, 127, axis=0)
    assert torch.equal(got, want)


def test_no_mask_without_grad_and_identical_values():
    x = make_x("large")
    with torch.no_grad():
        out, mask = torch.ops.razor_ext.fake_quantize(x, torch.tensor([0.02]), torch.tensor([0]),
                                                      -128, 127, None, False)
    assert mask.numel() == 0
    assert torch.equal(out, fake_quantize(x, 0.02, 0, -128, 127))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_any_thread_count_gives_the_same_bits(thread_count, threads):
    thread_count(threads)
    x = make_x("large")
    scale, zero_point = make_qparams(x, 1, -128, 127)
    got, got_grad = _run(fake_quantize, x, scale, zero_point, -128, 127, 1)
    want, want_grad = _run(torch_fake_quantize, x, scale, zero_point, -128, 127, 1)
    assert torch.equal(got, want) and torch.equal(got_grad != 0, want_grad != 0)


def test_gradcheck_float64():
    # On a grid much finer than gradcheck's step the staircase is the identity to within
    # 1e-5, so finite differences see the straight-through gradient inside the range and 0
    # outside it (values at +-3e-4 lie beyond the range of +-2^24 * 1e-11 = +-1.7e-4).
    torch.manual_seed(0)
    inside = torch.rand(6, dtype=torch.float64) * 2e-4 - 1e-4
    outside = torch.tensor([3e-4, -3e-4], dtype=torch.float64)
    x = torch.cat([inside, outside]).requires_grad_()
    qmin, qmax = -(1 << 24), 1 << 24
    assert torch.autograd.gradcheck(lambda t: fake_quantize(t, 1e-11, 0, qmin, qmax), (x,),
                                    eps=1e-6, atol=1e-4)
    xc = x.detach().reshape(2, 4).requires_grad_()
    scale = torch.tensor([1e-11, 2e-11])
    zero_point = torch.zeros(2, dtype=torch.int32)
    assert torch.autograd.gradcheck(
        lambda t: fake_quantize(t, scale, zero_point, qmin, qmax, axis=0), (xc,), eps=1e-6, atol=1e-4)


@pytest.mark.parametrize("need_mask", [True, False])
@pytest.mark.parametrize("axis", [None, 1])
def test_opcheck(axis, need_mask):
    x = make_x("contiguous").requires_grad_(need_mask)
    scale, zero_point = make_qparams(x, axis, -128, 127)
    torch.library.opcheck(torch.ops.razor_ext.fake_quantize.default,
                          (x, scale, zero_point, -128, 127, axis, need_mask))


def test_opcheck_backward_op():
    grad = torch.randn(3, 5)
    mask = torch.rand(3, 5) > 0.5
    torch.library.opcheck(torch.ops.razor_ext.fake_quantize_backward.default, (grad, mask))
    # grad laid out unlike the mask is paired by position, not by memory.
    grad_t = torch.randn(5, 3).t()
    assert torch.equal(torch.ops.razor_ext.fake_quantize_backward(grad_t, mask), grad_t * mask)


def test_torch_compile_fullgraph():
    x = make_x("channels_last").requires_grad_()
    scale, zero_point = make_qparams(x, 1, 0, 255)

    def step(t):
        return fake_quantize(t * 1.5, scale, zero_point, 0, 255, axis=1).relu()

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    got = compiled(x)
    want = step(x)
    assert torch.equal(got, want)
    (g1,) = torch.autograd.grad(got.sum(), x)
    (g2,) = torch.autograd.grad(want.sum(), x)
    assert torch.equal(g1, g2)


def _bad_calls():
    x = torch.randn(2, 3, 4)
    s3, z3 = torch.full((3,), 0.1), torch.zeros(3, dtype=torch.int32)
    return [
        (lambda: fake_quantize(x, 0.1, 0, 5, 5), ValueError, "quant_min must be less than quant_max"),
        (lambda: fake_quantize(x, 0.1, 0, 10, 3), ValueError, "quant_min must be less than quant_max"),
        (lambda: fake_quantize(x, 0.0, 0, -8, 7), ValueError, "scale must be positive and finite"),
        (lambda: fake_quantize(x, -1.0, 0, -8, 7), ValueError, "scale must be positive and finite"),
        (lambda: fake_quantize(x, float("inf"), 0, -8, 7), ValueError, "scale must be positive and finite"),
        (lambda: fake_quantize(x, float("nan"), 0, -8, 7), ValueError, "scale must be positive and finite"),
        (lambda: fake_quantize(x, 0.1, 9, -8, 7), ValueError, "zero_point must lie in"),
        (lambda: fake_quantize(x, s3, torch.tensor([0, 0, -9]), -8, 7, 1), ValueError, "zero_point must lie in"),
        (lambda: fake_quantize(x, s3, z3, -8, 7, 3), IndexError, "axis=3 is out of range"),
        (lambda: fake_quantize(x, s3, z3, -8, 7, -4), IndexError, "axis=-4 is out of range"),
        (lambda: fake_quantize(x, s3, z3, -8, 7, 2), ValueError, "scale must be 1-D with x.shape"),
        (lambda: fake_quantize(x, torch.full((4,), 0.1), z3, -8, 7, 2), ValueError, "zero_point must be 1-D"),
        (lambda: fake_quantize(x, s3, z3, -8, 7), ValueError, "scale must hold one element"),
        (lambda: fake_quantize(torch.ones(3, dtype=torch.int32), 0.1, 0, -8, 7), TypeError, "x must be a floating tensor"),
        (lambda: fake_quantize(x.half(), 0.1, 0, -8, 7), TypeError, "x must be a floating tensor"),
        (lambda: fake_quantize(x, 0.1, 0, -8.0, 7), TypeError, "quant_min must be an int"),
        (lambda: fake_quantize(x, 0.1, 0, -8, 7, axis=1.0), TypeError, "axis must be an int or None"),
        (lambda: fake_quantize(x, "0.1", 0, -8, 7), TypeError, "scale must be a number or a tensor"),
        (lambda: fake_quantize([1.0], 0.1, 0, -8, 7), TypeError, "x must be a torch.Tensor"),
        (lambda: fake_quantize(x, 0.1, 0, -(1 << 25), 7), ValueError, r"\[-2\^24, 2\^24\]"),
        (lambda: fake_quantize(x, 0.1, float("nan"), -8, 7), ValueError, "zero_point must be finite"),
    ]


@pytest.mark.parametrize("index", range(len(_bad_calls())))
def test_bad_input_names_the_argument(index):
    call, error, match = _bad_calls()[index]
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("isa", ["avx2", "scalar"])
def test_generic_cpu_path_gives_the_same_bits_as_torch(isa):
    # The explicit AVX-512 float32 kernels run where the CPU has AVX-512; the same comparison
    # in a process forced onto a narrower path (RAZOR_EXT_ISA) covers the code other hosts run.
    code = (
        "import torch, razor_ext\n"
        "from razor_ext.ops import fake_quantize\n"
        "from tests.ops.fake_quant_cases import make_x, make_qparams, torch_fake_quantize\n"
        "for case in ('contiguous', 'channels_last', 'odd', 'large'):\n"
        "    for axis in (None, 0, -1):\n"
        "        x = make_x(case)\n"
        "        x[(0,) * x.dim()] = float('nan')\n"
        "        x = x.requires_grad_()\n"
        "        s, z = make_qparams(x, axis, -8, 7)\n"
        "        ours = fake_quantize(x, s, z, -8, 7, axis)\n"
        "        want = torch_fake_quantize(x, s, z, -8, 7, axis)\n"
        "        g = torch.randn_like(ours)\n"
        "        assert torch.equal(ours, want), case\n"
        "        gx, = torch.autograd.grad(ours, x, g)\n"
        "        gw, = torch.autograd.grad(want, x, g)\n"
        "        assert torch.equal(gx, gw), case\n"
        "print('ok')\n")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                            env={**os.environ, "RAZOR_EXT_ISA": isa})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr


@pytest.mark.parametrize("op", ["fake_quantize", "lsq_fake_quantize", "fused_observe_fake_quantize"])
def test_runs_in_float32_under_autocast_as_aten_does(op):
    # An autocast model's activations are bfloat16; ATen's fake quant casts them to float32 there,
    # and so do these ops (the gradient comes back in bfloat16).
    scale, zero_point = torch.tensor([0.05]), torch.tensor([3], dtype=torch.int32)
    calls = {
        "fake_quantize": lambda x: fake_quantize(x, scale, zero_point, -128, 127),
        "lsq_fake_quantize": lambda x: lsq_fake_quantize(x, scale, zero_point.float(), -128, 127),
        "fused_observe_fake_quantize": lambda x: fused_observe_fake_quantize(
            x, torch.tensor([-1.0]), torch.tensor([1.0]), scale.clone(), zero_point.clone(),
            -128, 127, observe=False),
    }
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(0)).bfloat16().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = calls[op](x)
    assert y.dtype == torch.float32
    y.sum().backward()
    x_ref = x.detach().float().requires_grad_()
    expected = calls[op](x_ref)
    expected.sum().backward()
    torch.testing.assert_close(y, expected)
    assert x.grad.dtype == torch.bfloat16
    torch.testing.assert_close(x.grad.float(), x_ref.grad)
