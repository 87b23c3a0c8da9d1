"""kd_kl_div against its eager reference (F.kl_div of log_softmax / softmax): values and gradients
for every reduction, dtypes, shapes (rows of one class, many blocks, rows past the stored-exp
limit), non-contiguous and empty inputs, extreme logits, errors, opcheck, gradcheck, torch.compile."""
from __future__ import annotations

import math

import pytest
import torch

from razor_ext.ops import kd_kl_div, reference

REDUCTIONS = ["batchmean", "sum", "mean", "none"]


def run(fn, s, t, tau, reduction, grad_teacher=True):
    """Loss and gradients (w.r.t. float64 copies for the reference) under a random upstream grad."""
    s = s.detach().clone().requires_grad_()
    t = t.detach().clone().requires_grad_(grad_teacher)
    loss = fn(s, t, tau, reduction)
    g = torch.randn(loss.shape, dtype=loss.dtype, generator=torch.Generator().manual_seed(3))
    loss.backward(g)
    return loss.detach(), s.grad, t.grad


def expect_match(s, t, tau, reduction, rtol, atol, grad_teacher=True):
    got = run(kd_kl_div, s, t, tau, reduction, grad_teacher)
    want = run(reference.kd_kl_div, s.double(), t.double(), tau, reduction, grad_teacher)
    torch.testing.assert_close(got[0].double(), want[0], rtol=rtol, atol=atol, equal_nan=True)
    torch.testing.assert_close(got[1].double(), want[1], rtol=rtol, atol=atol)
    if grad_teacher:
        torch.testing.assert_close(got[2].double(), want[2], rtol=rtol, atol=atol)
    else:
        assert got[2] is None
    return got


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(4, 7), (2, 3, 17), (13,), (6, 1), (3, 1500)])
@pytest.mark.parametrize("tau", [1.0, 3.5])
def test_matches_reference(shape, dtype, reduction, tau):
    g = torch.Generator().manual_seed(0)
    s = (torch.randn(shape, generator=g) * 3).to(dtype)
    t = (torch.randn(shape, generator=g) * 3).to(dtype)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    got = expect_match(s, t, tau, reduction, **tol)
    expected_shape = shape[:-1] if reduction == "none" else ()
    assert got[0].shape == expected_shape and got[0].dtype == dtype


@pytest.mark.parametrize("reduction", ["batchmean", "none"])
def test_student_only_gradient(reduction):
    # The teacher's exps go to a scratch row instead of its (absent) gradient buffer.
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(5, 2000, generator=g), torch.randn(5, 2000, generator=g)
    expect_match(s, t, 2.0, reduction, rtol=2e-5, atol=2e-7, grad_teacher=False)


def test_rows_longer_than_the_stored_exps():
    # Past 256 blocks of 512 classes the gradient pass recomputes the exps.
    g = torch.Generator().manual_seed(2)
    s, t = torch.randn(2, 140_000, generator=g), torch.randn(2, 140_000, generator=g)
    expect_match(s, t, 1.5, "sum", rtol=1e-4, atol=1e-9)
    expect_match(s, t, 1.5, "sum", rtol=1e-4, atol=1e-9, grad_teacher=False)


def test_rows_of_one_class_are_exactly_zero():
    s = torch.randn(6, 1, requires_grad=True)
    t = torch.randn(6, 1, requires_grad=True)
    loss = kd_kl_div(s, t, 2.0, "none")
    assert torch.equal(loss, torch.zeros(6))
    loss.sum().backward()
    assert torch.equal(s.grad, torch.zeros(6, 1)) and torch.equal(t.grad, torch.zeros(6, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_non_contiguous_inputs(reduction):
    base = torch.randn(6, 9, 20, dtype=torch.float64)
    s = base.transpose(0, 2)[::2]  # (10, 9, 6), strided classes
    t = base.permute(2, 1, 0)[1::2] * 2
    assert not s.is_contiguous() and not t.is_contiguous()
    expect_match(s, t, 1.7, reduction, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", [(0, 5), (3, 0), (0,), (2, 0, 4)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty(shape, reduction):
    s, t = torch.randn(shape), torch.randn(shape)
    got = run(kd_kl_div, s, t, 2.0, reduction)
    want = run(reference.kd_kl_div, s, t, 2.0, reduction)
    torch.testing.assert_close(got[0], want[0], equal_nan=True)  # 0/0 = NaN where torch gives it
    assert got[1].shape == shape and got[2].shape == shape


@pytest.mark.parametrize("scale", [1e3, 1e5])
def test_very_large_logits(scale):
    g = torch.Generator().manual_seed(4)
    s = torch.randn(8, 300, generator=g, dtype=torch.float64) * scale
    t = s + torch.randn(8, 300, generator=g, dtype=torch.float64)
    # Teacher gradients are left out: where softmax(t) underflows to 0, torch's is NaN (the
    # log(0) of F.kl_div's target gradient times 0) and ours is the limit, 0 (see below).
    # float64: exact enough to see the kernel's own error, not the inputs' rounding.
    expect_match(s, t, 2.0, "batchmean", rtol=1e-8, atol=1e-8 * scale, grad_teacher=False)
    # float32: the error of any float32 log-softmax grows with |logits| (ulp of the max).
    expect_match(s.float(), t.float(), 2.0, "batchmean", rtol=1e-4, atol=1e-6 * scale,
                 grad_teacher=False)


def test_teacher_gradient_is_zero_where_its_probability_underflows():
    t = torch.tensor([[0.0, -200.0, 1.0]], requires_grad=True)  # exp(-200) underflows in float32
    s = torch.tensor([[0.5, 0.0, 1.0]])
    kd_kl_div(s, t).backward()
    assert t.grad[0, 1] == 0 and torch.isfinite(t.grad).all()
    # torch's float32 gradient is NaN in the whole row; in float64 nothing underflows, and ours
    # agrees with that one.
    t64 = t.detach().double().requires_grad_()
    reference.kd_kl_div(s.double(), t64).backward()
    torch.testing.assert_close(t.grad.double(), t64.grad, rtol=1e-5, atol=1e-7)


def test_minus_inf_logits_follow_torch():
    inf = float("inf")
    t = torch.tensor([[-inf, 0.0, 1.0, 2.0], [0.5, -inf, -inf, 3.0]])
    s = torch.tensor([[1.0, 2.0, -1.0, 0.5], [0.0, 1.0, 2.0, 1.0]])
    # Zero teacher probabilities contribute 0: finite, as torch. (torch's teacher gradient is NaN
    # there, log(0) * 0; ours is the limit 0, checked in the test above.)
    _, _, grad_t = expect_match(s, t, 1.0, "none", rtol=1e-5, atol=1e-6, grad_teacher=False)
    _, _, grad_t = run(kd_kl_div, s, t, 1.0, "none")
    assert torch.isfinite(grad_t).all() and grad_t[0, 0] == 0 and grad_t[1, 1] == 0
    expect_match(s, t, 2.0, "sum", rtol=1e-5, atol=1e-6, grad_teacher=False)
    # A student -inf where the teacher has mass: +inf; where both are -inf: NaN (0 * -inf).
    s2 = s.clone()
    s2[0, 2] = -inf
    s2[1, 1] = -inf
    got = kd_kl_div(s2, t, 1.0, "none")
    want = reference.kd_kl_div(s2, t, 1.0, "none")
    assert got[0] == inf and want[0] == inf
    assert math.isnan(got[1]) and math.isnan(want[1])
    # A whole teacher row of -inf has no softmax: NaN, as torch.
    t3 = torch.full((1, 4), -inf)
    assert math.isnan(kd_kl_div(s[:1], t3, 1.0, "sum")) and math.isnan(reference.kd_kl_div(s[:1], t3, 1.0, "sum"))


def test_minus_inf_before_the_max_in_long_rows():
    # Blocks of -inf first, the row's max in a later block: the online rescaling path.
    t = torch.full((2, 3000), float("-inf"))
    t[:, 2500:] = torch.randn(2, 500)
    s = torch.randn(2, 3000)
    expect_match(s, t, 1.0, "none", rtol=1e-5, atol=1e-6, grad_teacher=False)


@pytest.mark.parametrize("where", ["student", "teacher"])
def test_nan_propagates_to_its_row(where):
    s, t = torch.randn(3, 10), torch.randn(3, 10)
    (s if where == "student" else t)[1, 4] = float("nan")
    got = kd_kl_div(s, t, 1.0, "none")
    want = reference.kd_kl_div(s, t, 1.0, "none")
    assert math.isnan(got[1]) and math.isnan(want[1])
    torch.testing.assert_close(got[[0, 2]], want[[0, 2]])


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_thread_counts_give_the_same_bits(thread_count, threads):
    g = torch.Generator().manual_seed(5)
    s, t = torch.randn(300, 700, generator=g), torch.randn(300, 700, generator=g)
    thread_count(1)
    one = kd_kl_div(s, t, 2.0)
    thread_count(threads)
    assert torch.equal(kd_kl_div(s, t, 2.0), one)  # rows are summed in row order, in float64


def test_retained_graph_keeps_the_saved_gradient():
    # backward may hand the saved gradient to .grad without a copy: never while it is still saved.
    s, t = torch.randn(5, 7, requires_grad=True), torch.randn(5, 7)
    loss = kd_kl_div(s, t, 2.0)
    loss.backward(retain_graph=True)
    first = s.grad.clone()
    s.grad.zero_()
    loss.backward()
    assert torch.equal(s.grad, first)


def test_gradient_accumulates():
    s, t = torch.randn(4, 9, requires_grad=True), torch.randn(4, 9)
    kd_kl_div(s, t).backward()
    once = s.grad.clone()
    kd_kl_div(s, t).backward()
    torch.testing.assert_close(s.grad, 2 * once)


def test_no_grad_computes_no_gradient_buffers():
    s, t = torch.randn(4, 9, requires_grad=True), torch.randn(4, 9)
    with torch.no_grad():
        loss = kd_kl_div(s, t)
    assert not loss.requires_grad
    _, gs, gt = torch.ops.razor_ext.kd_kl_div(s.detach(), t, 1.0, "batchmean", False, False)
    assert gs.shape == (0,) and gt.shape == (0,)


def test_raw_op_without_forward_gradient_raises_in_backward():
    s, t = torch.randn(4, 9, requires_grad=True), torch.randn(4, 9)
    loss = torch.ops.razor_ext.kd_kl_div(s, t, 1.0, "batchmean", False, False)[0]
    with pytest.raises(RuntimeError, match="grad_student=True"):
        loss.backward()


def test_double_backward_raises():
    s, t = torch.randn(4, 9, requires_grad=True), torch.randn(4, 9)
    (g,) = torch.autograd.grad(kd_kl_div(s, t), s, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((torch.randn(2, 3), torch.randn(2, 4)), ValueError, "teacher has shape"),
        ((torch.randn(2, 3), torch.randn(2, 3, dtype=torch.float64)), TypeError, "teacher has dtype"),
        ((torch.randn(2, 3).half(), torch.randn(2, 3).half()), TypeError, "student must be float32"),
        ((torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long)), TypeError, "student must be"),
        ((torch.tensor(1.0), torch.tensor(1.0)), ValueError, "at least 1 dim"),
        ((torch.randn(2, 3), torch.randn(2, 3), 0.0), ValueError, "tau must be a positive"),
        ((torch.randn(2, 3), torch.randn(2, 3), -1.0), ValueError, "tau must be a positive"),
        ((torch.randn(2, 3), torch.randn(2, 3), float("nan")), ValueError, "tau must be a positive"),
        ((torch.randn(2, 3), torch.randn(2, 3), True), TypeError, "tau must be a real number"),
        ((torch.randn(2, 3), torch.randn(2, 3), 1.0, "avg"), ValueError, "reduction must be"),
        ((torch.randn(2, 3), [1.0, 2.0]), TypeError, "teacher must be a torch.Tensor"),
    ],
)
def test_bad_arguments_name_the_argument(args, error, match):
    with pytest.raises(error, match=match):
        kd_kl_div(*args)


def test_raw_op_checks_in_cpp():
    with pytest.raises(ValueError, match="reduction must be"):
        torch.ops.razor_ext.kd_kl_div(torch.randn(2, 3), torch.randn(2, 3), 1.0, "avg", False, False)
    with pytest.raises(ValueError, match="tau must be a positive"):
        torch.ops.razor_ext.kd_kl_div(torch.randn(2, 3), torch.randn(2, 3), 0.0, "sum", False, False)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("grads", [(True, True), (True, False), (False, False)])
def test_opcheck(reduction, grads):
    s = torch.randn(3, 4, 11, requires_grad=grads[0])
    t = torch.randn(3, 4, 11, requires_grad=grads[1])
    torch.library.opcheck(torch.ops.razor_ext.kd_kl_div.default, (s, t, 2.0, reduction, *grads))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck(reduction):
    g = torch.Generator().manual_seed(6)
    s = torch.randn(3, 5, dtype=torch.float64, generator=g, requires_grad=True)
    t = torch.randn(3, 5, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: kd_kl_div(a, b, 1.7, reduction), (s, t))


def test_torch_compile_fullgraph():
    def step(s, t):
        return kd_kl_div(s, t, 4.0, "batchmean") + kd_kl_div(s * 2, t, 1.0, "none").sum()

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    s = torch.randn(6, 30, requires_grad=True)
    t = torch.randn(6, 30)
    got = compiled(s, t)
    got.backward()
    got_grad = s.grad.clone()
    s.grad = None
    want = step(s, t)
    want.backward()
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got_grad, s.grad)
