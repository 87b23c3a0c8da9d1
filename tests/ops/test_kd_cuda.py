"""CUDA impls of kd_kl_div / dkd_loss (python/kd_ops_cuda.cpp, csrc/cuda/kd.cu): values and
gradients against the float64 CPU reference, bfloat16/float16 with float accumulation, edge rows,
the CPU impl's error messages. Skipped without a CUDA device and a CUDA build."""
from __future__ import annotations

import math

import pytest
import torch

import razor_ext
from razor_ext.ops import cwd_loss, dkd_loss, kd_kl_div, reference

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    pytest.mark.skipif(
        not razor_ext.build_info()["cuda"],
        reason="razor_ext was built without CUDA kernels (RAZOR_EXT_CUDA=0 or no CUDA torch)",
    ),
]

CUDA = torch.device("cuda")
TOL = {torch.float32: (2e-5, 2e-6), torch.float64: (1e-10, 1e-12),
       torch.bfloat16: (2e-2, 2e-3), torch.float16: (5e-3, 5e-4)}


def loss_and_grads(fn, s, t, *args):
    s = s.detach().clone().requires_grad_()
    t = t.detach().clone().requires_grad_()
    loss = fn(s, t, *args)
    loss.backward(torch.ones_like(loss) * 0.5)
    return [loss.detach(), s.grad, t.grad]


@pytest.mark.parametrize("dtype", list(TOL))
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "mean", "none"])
@pytest.mark.parametrize("shape", [(4, 7), (3, 2, 1000), (2, 40000), (5, 1)])
def test_kd_kl_div_matches_reference(dtype, reduction, shape):
    g = torch.Generator().manual_seed(0)
    s = torch.randn(shape, generator=g) * 3
    t = torch.randn(shape, generator=g) * 3
    s_d, t_d = s.to(dtype), t.to(dtype)  # the rounded inputs are the ground truth
    got = loss_and_grads(kd_kl_div, s_d.to(CUDA), t_d.to(CUDA), 2.0, reduction)
    want = loss_and_grads(reference.kd_kl_div, s_d.double(), t_d.double(), 2.0, reduction)
    rtol, atol = TOL[dtype]
    for a, b in zip(got, want):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a.cpu().double(), b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dkd_and_cwd_match_cpu(dtype):
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(6, 50, generator=g, dtype=dtype), torch.randn(6, 50, generator=g, dtype=dtype)
    y = torch.randint(50, (6,), generator=g)
    cpu = loss_and_grads(lambda a, b: dkd_loss(a, b, y, 0.5, 8.0, 4.0), s, t)
    gpu = loss_and_grads(lambda a, b: dkd_loss(a, b, y.to(CUDA), 0.5, 8.0, 4.0), s.to(CUDA), t.to(CUDA))
    for a, b in zip(gpu, cpu):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-5, atol=1e-7)
    maps = torch.randn(2, 3, 8, 8, generator=g, dtype=dtype), torch.randn(2, 3, 8, 8, generator=g, dtype=dtype)
    torch.testing.assert_close(cwd_loss(*[m.to(CUDA) for m in maps], 4.0).cpu(), cwd_loss(*maps, 4.0))


def test_edge_rows():
    inf = float("inf")
    t = torch.tensor([[-inf, 0.0, 1.0], [0.0, 1.0, 2.0], [-inf, -inf, -inf]], device=CUDA)
    s = torch.tensor([[1.0, 2.0, 3.0], [-inf, 1.0, 2.0], [0.0, 1.0, 2.0]], device=CUDA)
    got = kd_kl_div(s, t, 1.0, "none").cpu()
    want = reference.kd_kl_div(s.cpu(), t.cpu(), 1.0, "none")
    assert math.isfinite(got[0]) and abs(got[0] - want[0]) < 1e-5
    assert got[1] == inf and math.isnan(got[2]) and math.isnan(want[2])
    one = torch.randn(4, 1, device=CUDA)
    assert torch.equal(kd_kl_div(one, one * 2, 1.0, "none").cpu(), torch.zeros(4))


def test_errors_match_cpu():
    s = torch.randn(2, 5, device=CUDA)
    with pytest.raises(IndexError, match=r"target\[1\] = 7"):
        dkd_loss(s, s, torch.tensor([0, 7], device=CUDA))
    with pytest.raises(ValueError, match="teacher has shape"):
        torch.ops.razor_ext.kd_kl_div(s, s[:, :4], 1.0, "sum", False, False)
    with pytest.raises(ValueError, match="teacher is on"):
        torch.ops.razor_ext.kd_kl_div(s, s.cpu(), 1.0, "sum", False, False)
