"""The CUDA kernels at run time, on a GPU host: every op family (fake quant, LSQ, fused observe,
dynamic conv / linear, KD rows, CWD, DKD, channel gather and norms) against the CPU kernels and the
pure-PyTorch references, in values and gradients, on contiguous, non-contiguous, odd-sized and
empty inputs. Skipped, with the reason, where there is no GPU or the build has no CUDA kernels."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import razor_ext
from razor_ext import ops
from razor_ext.ops import reference


def _cuda_skip_reason() -> str | None:
    if not torch.cuda.is_available():
        return "no CUDA device (torch.cuda.is_available() is False)"
    if not razor_ext.build_info()["cuda"]:
        return "razor_ext._C was built without CUDA kernels (RAZOR_EXT_CUDA=0 or no nvcc)"
    return None


pytestmark = pytest.mark.skipif(_cuda_skip_reason() is not None, reason=str(_cuda_skip_reason()))


def _leaves(args: list, device: str, grad_at: set[int]) -> list:
    out = []
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor):
            a = a.detach().to(device)
            if i in grad_at:
                a.requires_grad_()
        out.append(a)
    return out


def _run(fn: Callable, args: list, device: str, grad_at: set[int], seed: int = 0):
    leaves = _leaves(args, device, grad_at)
    out = fn(*leaves)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    wanted = [leaves[i] for i in sorted(grad_at)]
    grads: list = []
    if wanted:
        gen = torch.Generator().manual_seed(seed)
        seeds = [torch.randn(o.shape, generator=gen, dtype=o.dtype).to(device) for o in outs]
        terms = [(o * g).sum() for o, g in zip(outs, seeds) if o.requires_grad]
        assert terms, "no output of the op requires grad"
        grads = list(torch.autograd.grad(sum(terms), wanted, allow_unused=True))
    return [o.detach().cpu() for o in outs], [None if g is None else g.cpu() for g in grads]


def _check(fn: Callable, ref: Callable | None, args: list, grad_at: set[int] = frozenset({0}),
           rtol: float = 1e-5, atol: float = 1e-6) -> None:
    cpu = _run(fn, args, "cpu", set(grad_at))
    cuda = _run(fn, args, "cuda", set(grad_at))
    for want, got in zip(cpu[0] + cpu[1], cuda[0] + cuda[1]):
        if want is None:
            assert got is None
            continue
        torch.testing.assert_close(got, want, rtol=rtol, atol=atol, equal_nan=True)
    # (the references' reductions of empty inputs differ by design, e.g. 0 / 0 for batchmean)
    if ref is not None and all(a.numel() for a in args if isinstance(a, torch.Tensor)):
        refd = _run(ref, args, "cuda", set(grad_at))
        for want, got in zip(refd[0] + refd[1], cuda[0] + cuda[1]):
            if want is not None and got is not None:
                torch.testing.assert_close(got, want, rtol=max(rtol, 1e-4), atol=max(atol, 1e-5))


def _shapes() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(6, 10, 7, 5, generator=g)
    return {
        "contiguous": base,
        "non_contiguous": base.transpose(1, 3),  # a strided view, not a copy
        "odd": torch.randn(3, 5, 1, 13, generator=g),
        "empty": torch.randn(0, 5, 3, 3, generator=g),
    }


CASES = list(_shapes())


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("axis", [None, 1])
def test_fake_quantize(case, axis):
    x = _shapes()[case] * 3
    channels = 1 if axis is None else x.shape[axis]
    scale = torch.rand(channels) * 0.1 + 0.02
    zp = torch.randint(-5, 5, (channels,), dtype=torch.int32)
    if axis is None:
        scale, zp = scale[0], zp[0]
    _check(lambda t, s, z: ops.fake_quantize(t, s, z, -128, 127, axis),
           lambda t, s, z: reference.fake_quantize(t, s, z, -128, 127, axis), [x, scale, zp])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("axis", [None, 1])
def test_lsq_fake_quantize(case, axis):
    x = _shapes()[case] * 3
    channels = 1 if axis is None else x.shape[axis]
    scale = torch.rand(channels) * 0.1 + 0.02
    zp = torch.randint(-5, 5, (channels,)).float()
    # the scale and zero-point gradients are float32 sums of hundreds of terms: the order differs
    # between devices and from the reference's
    _check(lambda t, s, z: ops.lsq_fake_quantize(t, s, z, -128, 127, axis, grad_factor=0.5),
           lambda t, s, z: reference.lsq_fake_quantize(t, s, z, -128, 127, axis, grad_factor=0.5),
           [x, scale, zp], grad_at={0, 1, 2}, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("case", ["contiguous", "non_contiguous", "odd"])
@pytest.mark.parametrize("axis", [None, 1])
def test_fused_observe_fake_quantize(case, axis):
    x = _shapes()[case] * 3
    channels = 1 if axis is None else x.shape[axis]
    state = [torch.full((channels,), -0.5), torch.full((channels,), 0.5),
             torch.ones(channels), torch.zeros(channels, dtype=torch.int32)]
    results = {}
    for device in ("cpu", "cuda"):
        buffers = [t.clone().to(device) for t in state]
        xd = x.detach().to(device).requires_grad_()
        out = ops.fused_observe_fake_quantize(xd, *buffers, -128, 127, axis, averaging_constant=0.1)
        (gx,) = torch.autograd.grad(out.sum(), xd)
        results[device] = [out.detach().cpu(), gx.cpu()] + [b.cpu() for b in buffers]
    for want, got in zip(results["cpu"], results["cuda"]):
        torch.testing.assert_close(got, want)
    # the running statistics and qparams are the observer's (the pure-PyTorch reference)
    ref = reference.observe_qparams(x.cuda(), *[t.cuda() for t in state[:2]], -128, 127, axis, 0.1)
    for want, got in zip(ref, results["cuda"][2:]):
        torch.testing.assert_close(got, want.cpu().to(got.dtype))


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
@pytest.mark.parametrize("rows, classes", [(8, 10), (5, 1001), (0, 7), (3, 1)])
def test_kd_kl_div(reduction, rows, classes):
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(rows, classes, generator=g) * 4, torch.randn(rows, classes, generator=g) * 4
    _check(lambda a, b: ops.kd_kl_div(a, b, 2.0, reduction),
           lambda a, b: reference.kd_kl_div(a, b, 2.0, reduction), [s, t], grad_at={0, 1},
           rtol=1e-4, atol=1e-5)


def test_kd_kl_div_non_contiguous():
    s = torch.randn(12, 9).t()
    t = torch.randn(12, 9).t()
    _check(lambda a, b: ops.kd_kl_div(a, b, 1.0), lambda a, b: reference.kd_kl_div(a, b, 1.0),
           [s, t], grad_at={0, 1}, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 1, 1, 1), (0, 3, 4, 4)])
def test_cwd_loss(shape):
    g = torch.Generator().manual_seed(2)
    s, t = torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)
    _check(lambda a, b: ops.cwd_loss(a, b, 4.0), lambda a, b: reference.cwd_loss(a, b, 4.0),
           [s, t], grad_at={0, 1}, rtol=1e-4, atol=1e-5)


def test_dkd_loss():
    g = torch.Generator().manual_seed(3)
    s, t = torch.randn(9, 11, generator=g) * 3, torch.randn(9, 11, generator=g) * 3
    target = torch.randint(0, 11, (9,), generator=g)
    _check(lambda a, b, y: ops.dkd_loss(a, b, y, 1.0, 8.0, 4.0),
           lambda a, b, y: reference.dkd_loss(a, b, y, 1.0, 8.0, 4.0), [s, t, target],
           grad_at={0, 1}, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_channel_gather(case):
    x = _shapes()[case]
    w = torch.randn(x.shape[1], 3)
    index = torch.tensor([4, 0, 2]) if x.shape[1] > 4 else torch.tensor([0])
    _check(lambda a, b, i: ops.channel_gather([a, b], i, [1, 0]),
           lambda a, b, i: reference.channel_gather([a, b], i, [1, 0]), [x, w, index], grad_at={0, 1})


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("p", [1, 2])
def test_channel_norms(case, p):
    x = _shapes()[case]
    w = torch.randn(3, x.shape[1])
    _check(lambda a, b: ops.channel_norms([a, b], [1, 1], p),
           lambda a, b: reference.channel_norms([a, b], [1, 1], p), [x, w], grad_at=set(),
           rtol=1e-4, atol=1e-5)  # importance scores: values only


@pytest.mark.parametrize("groups", [1, "depthwise"])
@pytest.mark.parametrize("kernel_size", [None, 3])
def test_dynamic_conv2d(groups, kernel_size):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 6, 9, 11, generator=g)
    groups = 6 if groups == "depthwise" else 1
    weight = torch.randn(10, 1 if groups > 1 else 8, 5, 5, generator=g)
    bias = torch.randn(10, generator=g)
    out = None if groups > 1 else 7
    pad = 1 if kernel_size == 3 else 2
    _check(lambda a, w, b: ops.dynamic_conv2d(a, w, b, out, 1, pad, 1, groups, kernel_size),
           lambda a, w, b: reference.dynamic_conv2d(a, w, b, out, 1, pad, 1, groups, kernel_size),
           [x, weight, bias], grad_at={0, 1, 2}, rtol=1e-4, atol=1e-4)


def test_dynamic_conv2d_non_contiguous_input():
    x = torch.randn(2, 9, 11, 6).permute(0, 3, 1, 2)
    weight, bias = torch.randn(8, 8, 3, 3), torch.randn(8)
    _check(lambda a, w, b: ops.dynamic_conv2d(a, w, b, 5, 1, 1),
           lambda a, w, b: reference.dynamic_conv2d(a, w, b, 5, 1, 1), [x, weight, bias],
           grad_at={0, 1, 2}, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 6), (0, 6)])
def test_dynamic_linear(shape):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(*shape, generator=g)
    weight, bias = torch.randn(9, 8, generator=g), torch.randn(9, generator=g)
    _check(lambda a, w, b: ops.dynamic_linear(a, w, b, 5),
           lambda a, w, b: reference.dynamic_linear(a, w, b, 5), [x, weight, bias],
           grad_at={0, 1, 2}, rtol=1e-4, atol=1e-4)
