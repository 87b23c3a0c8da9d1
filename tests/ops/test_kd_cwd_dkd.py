"""cwd_loss and dkd_loss (both on the fused KD kernel) against their references and against
MMRazor's formulas written out independently; gradients, errors, opcheck, gradcheck, compile."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from razor_ext.ops import cwd_loss, dkd_loss, kd_kl_div, reference


def grads(fn, *tensors, needs=(True, True)):
    leaves = [t.detach().clone().requires_grad_(n) for t, n in zip(tensors, needs)]
    loss = fn(*leaves)
    g = torch.randn(loss.shape, dtype=loss.dtype, generator=torch.Generator().manual_seed(9))
    loss.backward(g)
    return [loss.detach()] + [leaf.grad for leaf in leaves]


def assert_all_close(got, want, **tol):
    for a, b in zip(got, want):
        if b is None:
            assert a is None
        else:
            torch.testing.assert_close(a.to(b.dtype), b, **tol)


# ---- cwd_loss ---------------------------------------------------------------------------------

def mmrazor_cwd(preds_s, preds_t, tau):
    """ChannelWiseDivergence.forward (loss_weight 1) as MMRazor's source computes it."""
    n, c, h, w = preds_s.shape
    soft_t = F.softmax(preds_t.view(-1, w * h) / tau, dim=1)
    loss = torch.sum(soft_t * F.log_softmax(preds_t.view(-1, w * h) / tau, dim=1)
                     - soft_t * F.log_softmax(preds_s.view(-1, w * h) / tau, dim=1)) * tau**2
    return loss / (c * n)


@pytest.mark.parametrize("tau", [1.0, 4.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cwd_matches_reference_and_mmrazor(tau, dtype):
    g = torch.Generator().manual_seed(0)
    s = torch.randn(2, 5, 7, 9, generator=g, dtype=torch.float64)
    t = torch.randn(2, 5, 7, 9, generator=g, dtype=torch.float64) * 2
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    got = grads(lambda a, b: cwd_loss(a, b, tau), s.to(dtype), t.to(dtype))
    assert_all_close(got, grads(lambda a, b: reference.cwd_loss(a, b, tau), s, t), **tol)
    assert_all_close(got, grads(lambda a, b: mmrazor_cwd(a, b, tau), s, t), **tol)


def test_cwd_non_contiguous_and_one_position():
    base = torch.randn(3, 4, 6, 5, dtype=torch.float64)
    s = base.permute(0, 3, 1, 2)  # channels_last-like strides
    t = torch.randn(3, 5, 4, 6, dtype=torch.float64)
    assert_all_close(grads(cwd_loss, s, t), grads(reference.cwd_loss, s, t))
    one = torch.randn(2, 3, 1, 1)
    assert cwd_loss(one, torch.randn(2, 3, 1, 1)) == 0


@pytest.mark.parametrize(
    "s, t, error, match",
    [
        (torch.randn(2, 3, 4), torch.randn(2, 3, 4), ValueError, "N x C x H x W"),
        (torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 5), ValueError, "teacher has shape"),
        (torch.randn(1, 1, 2, 2), "x", TypeError, "teacher must be a torch.Tensor"),
    ],
)
def test_cwd_bad_arguments(s, t, error, match):
    with pytest.raises(error, match=match):
        cwd_loss(s, t)


def test_cwd_tau_checked():
    with pytest.raises(ValueError, match="tau must be a positive"):
        cwd_loss(torch.randn(1, 2, 3, 3), torch.randn(1, 2, 3, 3), tau=0)


def test_cwd_gradcheck_and_compile():
    g = torch.Generator().manual_seed(1)
    s = torch.randn(2, 3, 2, 3, dtype=torch.float64, generator=g, requires_grad=True)
    t = torch.randn(2, 3, 2, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: cwd_loss(a, b, 2.0), (s, t))
    compiled = torch.compile(lambda a, b: cwd_loss(a, b, 2.0), fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(s, t), cwd_loss(s, t, 2.0))


# ---- dkd_loss ---------------------------------------------------------------------------------

def mmrazor_dkd(preds_s, preds_t, gt_labels, alpha, beta, tau, reduction):
    """DKDLoss.forward (loss_weight 1) as MMRazor's source computes it: the target class masked
    out of the NCKD softmaxes by subtracting 1000 from its logit / tau."""
    gt_mask = torch.zeros_like(preds_s).scatter_(1, gt_labels.reshape(-1, 1), 1).bool()
    other = ~gt_mask

    def kl(log_s, t):
        return F.kl_div(log_s, t, reduction=reduction) * tau**2

    def binary(p):
        return torch.cat([(p * gt_mask).sum(1, keepdim=True), (p * other).sum(1, keepdim=True)], 1)

    tckd = kl(torch.log(binary(F.softmax(preds_s / tau, 1))), binary(F.softmax(preds_t / tau, 1)))
    nckd = kl(F.log_softmax(preds_s / tau - 1000.0 * gt_mask, 1),
              F.softmax(preds_t / tau - 1000.0 * gt_mask, 1))
    return alpha * tckd + beta * nckd


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "mean"])
@pytest.mark.parametrize("tau", [1.0, 4.0])
def test_dkd_matches_mmrazor(reduction, tau):
    g = torch.Generator().manual_seed(2)
    s = torch.randn(16, 10, generator=g, dtype=torch.float64) * 3
    t = torch.randn(16, 10, generator=g, dtype=torch.float64) * 3
    y = torch.randint(10, (16,), generator=g)
    # Student gradients only: MMRazor's teacher gradient is NaN (its masked softmax is 0 at the
    # target, and F.kl_div's target gradient takes log(0)); the teacher's is checked against the
    # reference below.
    got = grads(lambda a, b: dkd_loss(a, b, y, 0.5, 8.0, tau, reduction), s, t, needs=(True, False))
    want = grads(lambda a, b: mmrazor_dkd(a, b, y, 0.5, 8.0, tau, reduction), s, t, needs=(True, False))
    assert_all_close(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "mean", "none"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(6, 2), (4, 33), (2, 3, 700)])
def test_dkd_matches_reference(reduction, dtype, shape):
    g = torch.Generator().manual_seed(3)
    s = torch.randn(shape, generator=g, dtype=torch.float64) * 2
    t = torch.randn(shape, generator=g, dtype=torch.float64) * 2
    y = torch.randint(shape[-1], shape[:-1], generator=g)
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-9, atol=1e-12)
    for needs in [(True, True), (True, False)]:
        got = grads(lambda a, b: dkd_loss(a, b, y, 1.5, 2.0, 3.0, reduction), s.to(dtype), t.to(dtype), needs=needs)
        want = grads(lambda a, b: reference.dkd_loss(a, b, y, 1.5, 2.0, 3.0, reduction), s, t, needs=needs)
        assert_all_close(got, want, **tol)


def test_dkd_one_class_and_flat_targets():
    s, t = torch.randn(5, 1, requires_grad=True), torch.randn(5, 1)
    loss = dkd_loss(s, t, torch.zeros(5, dtype=torch.long), reduction="sum")
    loss.backward()
    assert loss == 0 and torch.equal(s.grad, torch.zeros(5, 1))
    # MMRazor passes labels of any integer dtype, possibly flattened.
    s, t = torch.randn(2, 3, 6), torch.randn(2, 3, 6)
    y = torch.randint(6, (6,), dtype=torch.int32)
    torch.testing.assert_close(dkd_loss(s, t, y), reference.dkd_loss(s, t, y.reshape(2, 3)))


def test_dkd_confident_teacher_stays_finite():
    # P_t(target) = 1 - 1e-26: MMRazor's log(1 - P) path rounds to log(0); ours uses logits.
    s = torch.tensor([[0.0, 1.0, 2.0]], requires_grad=True)
    t = torch.tensor([[60.0, 0.0, 0.0]])
    loss = dkd_loss(s, t, torch.tensor([0]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(s.grad).all()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(target=torch.tensor([0, 5])), IndexError, r"target\[1\] = 5"),
        (dict(target=torch.tensor([0, -1])), IndexError, r"target\[1\] = -1"),
        (dict(target=torch.tensor([0.0, 1.0])), TypeError, "integer class indices"),
        (dict(target=torch.tensor([0, 1, 2])), ValueError, "target has shape"),
        (dict(target=[0, 1]), TypeError, "target must be a torch.Tensor"),
        (dict(alpha=float("inf")), ValueError, "alpha must be a finite"),
        (dict(beta="8"), TypeError, "beta must be a real number"),
        (dict(tau=-2.0), ValueError, "tau must be a positive"),
        (dict(reduction="avg"), ValueError, "reduction must be"),
    ],
)
def test_dkd_bad_arguments(kwargs, error, match):
    args = dict(student=torch.randn(2, 5), teacher=torch.randn(2, 5), target=torch.tensor([0, 1]))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        dkd_loss(**args)


@pytest.mark.parametrize("reduction", ["batchmean", "none"])
def test_dkd_opcheck_gradcheck_compile(reduction):
    g = torch.Generator().manual_seed(4)
    s = torch.randn(4, 6, dtype=torch.float64, generator=g, requires_grad=True)
    t = torch.randn(4, 6, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randint(6, (4,), generator=g)
    torch.library.opcheck(torch.ops.razor_ext.dkd_loss.default,
                          (s, t, y, 1.0, 8.0, 4.0, reduction, True, True))
    torch.library.opcheck(torch.ops.razor_ext.dkd_loss.default,
                          (s.detach(), t.detach(), y, 1.0, 8.0, 4.0, reduction, False, False))
    assert torch.autograd.gradcheck(lambda a, b: dkd_loss(a, b, y, 0.7, 1.3, 2.0, reduction), (s, t))
    fn = lambda a, b: dkd_loss(a, b, y, 0.7, 1.3, 2.0, reduction).sum()  # noqa: E731
    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(s, t), fn(s, t))


@pytest.mark.parametrize("loss", ["kd_kl_div", "cwd_loss", "dkd_loss"])
def test_losses_run_in_float32_under_autocast(loss):
    # An autocast model's logits are bfloat16; the losses then run in float32, as ATen's kl_div
    # and log_softmax do, and the gradient comes back to the bfloat16 logits.
    g = torch.Generator().manual_seed(0)
    s32, t32 = torch.randn(4, 10, generator=g), torch.randn(4, 10, generator=g)
    target = torch.tensor([0, 1, 2, 3])
    calls = {
        "kd_kl_div": (lambda s, t: kd_kl_div(s, t, tau=2.0),
                      lambda s, t: reference.kd_kl_div(s, t, tau=2.0)),
        "cwd_loss": (lambda s, t: cwd_loss(s.view(1, 4, 2, 5), t.view(1, 4, 2, 5)),
                     lambda s, t: reference.cwd_loss(s.view(1, 4, 2, 5), t.view(1, 4, 2, 5))),
        "dkd_loss": (lambda s, t: dkd_loss(s, t, target),
                     lambda s, t: reference.dkd_loss(s, t, target)),
    }
    ours, ref = calls[loss]
    s = s32.bfloat16().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = ours(s, t32.bfloat16())
    assert value.dtype == torch.float32
    value.backward()
    s_ref = s32.bfloat16().float().requires_grad_()
    expected = ref(s_ref, t32.bfloat16().float())
    expected.backward()
    torch.testing.assert_close(value, expected)
    assert s.grad.dtype == torch.bfloat16
    torch.testing.assert_close(s.grad.float(), s_ref.grad, rtol=1e-2, atol=1e-3)
