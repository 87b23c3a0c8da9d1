"""channel_norms against a float64 eager computation: values, gradients, layouts, dtypes,
errors, opcheck, gradcheck and torch.compile."""
from __future__ import annotations

import math

import pytest
import torch

from razor_ext.ops import channel_norms, reference
from tests.ops.conftest import coupled_group, mixed_size_group

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-12, torch.bfloat16: 1e-5, torch.float16: 1e-5}


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
def test_matches_reference(p, dtype):
    tensors, dims = coupled_group(13, dtype)
    got = channel_norms(tensors, dims, p)
    expected = reference.channel_norms(tensors, dims, p)
    assert got.shape == (13,)
    assert got.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    # Inputs are exact in every dtype, so only the accumulation differs from the float64 reference.
    torch.testing.assert_close(got, expected, rtol=TOLERANCE[dtype], atol=0)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_any_thread_count_is_correct_and_repeatable(thread_count, threads, p):
    # Each thread's part sums privately and parts merge in a fixed order: the same thread count
    # gives the same bits every time.
    thread_count(threads)
    tensors, dims = mixed_size_group()
    first = channel_norms(tensors, dims, p)
    torch.testing.assert_close(first, reference.channel_norms(tensors, dims, p), rtol=1e-5, atol=0)
    for _ in range(3):
        assert torch.equal(channel_norms(tensors, dims, p), first)


def test_single_tensor_is_the_textbook_norm():
    w = torch.randn(6, 4, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(channel_norms([w], [0], 1), w.abs().flatten(1).sum(1))
    torch.testing.assert_close(channel_norms([w], [1], 2), w.transpose(0, 1).flatten(1).norm(dim=1))


def test_sum_of_per_tensor_norms_not_norm_of_concatenation():
    a, b = torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0], [12.0]]).T  # channel 0: norms 5 and 0
    got = channel_norms([a, b], [0, 0], 2)
    assert got.tolist() == [5.0 + 12.0]


@pytest.mark.parametrize("p", [1, 2])
def test_non_contiguous_inputs(p):
    base = torch.randn(6, 16, 10, dtype=torch.float64)
    tensors = [base.transpose(0, 1), base[:, :, ::2].permute(1, 0, 2), base.permute(2, 1, 0)]
    dims = [0, 0, 1]
    assert all(not t.is_contiguous() for t in tensors)
    torch.testing.assert_close(channel_norms(tensors, dims, p), reference.channel_norms(tensors, dims, p))


@pytest.mark.parametrize("p", [1, 2])
def test_large_rows_keep_accuracy(p):
    # Rows far longer than one float accumulation block, in several chunks across threads.
    big = torch.rand(64, 300_000)
    torch.testing.assert_close(channel_norms([big], [0], p), reference.channel_norms([big], [0], p), rtol=1e-6, atol=0)


def test_zero_size_dims():
    assert channel_norms([torch.randn(0, 3)], [0]).shape == (0,)
    torch.testing.assert_close(channel_norms([torch.randn(4, 0)], [0], 2), torch.zeros(4))


def test_nan_and_inf_propagate():
    w = torch.ones(3, 50)
    w[0, 7] = float("nan")
    w[2, 49] = float("-inf")
    got = channel_norms([w], [0], 1)
    assert math.isnan(got[0]) and got[1] == 50 and math.isinf(got[2])


@pytest.mark.parametrize("p", [1, 2])
def test_gradients_match_reference(p):
    tensors, dims = coupled_group(7, torch.float64)
    leaves = [t.clone().requires_grad_() for t in tensors]
    weights = torch.randn(7, dtype=torch.float64)
    (channel_norms(leaves, dims, p) * weights).sum().backward()
    ref_leaves = [t.clone().requires_grad_() for t in tensors]
    expected = 0
    for t, d in zip(ref_leaves, dims):
        rows = t.movedim(d, 0).flatten(1) if t.dim() > 1 else t.unsqueeze(1)
        expected = expected + (rows.abs().sum(1) if p == 1 else rows.norm(dim=1))
    (expected * weights).sum().backward()
    for a, b in zip(leaves, ref_leaves):
        torch.testing.assert_close(a.grad, b.grad)


def test_zero_channel_has_zero_gradient_for_p2():
    w = torch.zeros(2, 3, requires_grad=True)
    with torch.no_grad():
        w[1] = torch.tensor([1.0, 2.0, 2.0])
    channel_norms([w], [0], 2).sum().backward()
    torch.testing.assert_close(w.grad, torch.tensor([[0.0, 0.0, 0.0], [1 / 3, 2 / 3, 2 / 3]]))


@pytest.mark.parametrize("p", [1, 2])
def test_gradcheck_float64(p):
    tensors, dims = coupled_group(4, torch.float64, seed=3)
    leaves = [t.requires_grad_() for t in tensors]
    assert torch.autograd.gradcheck(lambda *ts: channel_norms(list(ts), dims, p), leaves)


@pytest.mark.parametrize("p", [1, 2])
def test_opcheck(group, p):
    tensors, dims = group
    for requires_grad in (False, True):
        args = ([t.clone().requires_grad_(requires_grad) for t in tensors], dims, p)
        torch.library.opcheck(torch.ops.razor_ext.channel_norms.default, args)


def test_torch_compile_fullgraph(group):
    tensors, dims = group

    @torch.compile(fullgraph=True)
    def importance_ranking(ts):
        return channel_norms(ts, dims, 2).argsort(descending=True)

    expected = reference.channel_norms(tensors, dims, 2).argsort(descending=True)
    assert torch.equal(importance_ranking(tensors), expected)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: channel_norms([], []), ValueError, ["at least one tensor"]),
        (lambda: channel_norms([torch.randn(3, 4)], [0], p=3), ValueError, ["p must be 1 or 2"]),
        (lambda: channel_norms([torch.randn(3, 4)], [0], p=2.0), TypeError, ["p must be an int"]),
        (lambda: channel_norms([torch.randn(3, 4), torch.randn(4)], [0, 0]), ValueError, ["tensors[1] has 4 channels", "tensors[0] has 3"]),
        (lambda: channel_norms([torch.randn(3, 4), torch.randn(3, dtype=torch.float64)], [0, 0]), TypeError, ["tensors[1] has dtype Double"]),
        (lambda: channel_norms([torch.randint(0, 5, (3, 4))], [0]), TypeError, ["float32, float64, bfloat16 or float16", "Long"]),
        (lambda: channel_norms([torch.randn(3, 4)], [-1]), ValueError, ["dims[0] = -1"]),
        (lambda: channel_norms([torch.randn(3, 4)], [0, 0]), ValueError, ["same length"]),
        (lambda: channel_norms([torch.randn(3, 4), torch.randn(3, device="meta")], [0, 0]), ValueError, ["tensors[1] is on meta"]),
    ],
)
def test_bad_input_names_the_argument(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)
