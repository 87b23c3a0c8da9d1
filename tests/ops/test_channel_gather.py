"""channel_gather against index_select: values, gradients, layouts, dtypes, errors, opcheck,
gradcheck and torch.compile."""
from __future__ import annotations

import pytest
import torch

import razor_ext
from razor_ext.ops import channel_gather, reference
from tests.ops.conftest import coupled_group, mixed_size_group


def assert_gathered(tensors, index, dims):
    got = channel_gather(tensors, index, dims)
    expected = reference.channel_gather(tensors, torch.as_tensor(index, dtype=torch.int64), dims)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        assert g.is_contiguous()
        torch.testing.assert_close(g, e, rtol=0, atol=0)


@pytest.mark.parametrize("index", [[0, 5, 10], [10, 0, 10, 3], list(range(11)), [4]])
def test_matches_index_select(group, index):
    tensors, dims = group
    assert_gathered(tensors, torch.tensor(index), dims)


def test_empty_index_gives_zero_channels(group):
    tensors, dims = group
    out = channel_gather(tensors, torch.empty(0, dtype=torch.int64), dims)
    for o, t, d in zip(out, tensors, dims):
        assert o.shape[d] == 0 and o.shape[:d] == t.shape[:d] and o.shape[d + 1:] == t.shape[d + 1:]


def test_no_tensors_gives_no_outputs():
    assert channel_gather([], torch.tensor([0]), []) == []


def test_non_contiguous_inputs():
    base = torch.randn(6, 16, 10)
    tensors = [base.transpose(0, 1), base[:, ::2, :], base.permute(2, 1, 0)[:, :8]]
    dims = [0, 1, 1]
    assert all(not t.is_contiguous() for t in tensors)
    assert_gathered(tensors, torch.tensor([7, 0, 3]), dims)


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16, torch.int64,
              torch.int32, torch.int8, torch.uint8, torch.bool, torch.complex64],
)
def test_every_dtype_is_moved_bit_exactly(dtype):
    tensors, dims = coupled_group(9, torch.float64)
    tensors = [(t * 10).to(dtype) if dtype != torch.bool else t > 0 for t in tensors]
    assert_gathered(tensors, torch.tensor([8, 1, 1, 4]), dims)


def test_large_tensor_crosses_many_work_chunks():
    # 48 MB in and enough rows to be split into many chunks across threads.
    big = torch.randn(1024, 64, 96)
    tensors = [big, torch.randn(3, 1024, 7), torch.randn(1024)]
    index = torch.randperm(1024)[:700]
    assert_gathered(tensors, index, [0, 1, 0])


def test_streamed_gather_of_unaligned_rows_is_exact():
    # 9 MB of output (past the 2 MiB streaming threshold) in rows of 4099 bytes: the kernel
    # streams the rows past the cache, and every row starts at another alignment, so each one
    # has a cached head and tail.
    big = torch.randint(0, 256, (2600, 4099), dtype=torch.uint8)
    index = torch.randperm(2600)[:2200]
    assert_gathered([big, big.t()], index, [0, 1])


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_any_thread_count_gathers_every_row_once(thread_count, threads):
    # The work is split into one part of equal bytes per thread; more threads than cores too.
    thread_count(threads)
    tensors, dims = mixed_size_group()
    assert_gathered(tensors, torch.randperm(256)[:200], dims)


def test_index_list_and_int32_are_accepted(group):
    tensors, dims = group
    assert_gathered(tensors, [3, 1], dims)
    assert_gathered(tensors, torch.tensor([3, 1], dtype=torch.int32), dims)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradient_scatters_into_zeros(group, dtype):
    tensors, dims = coupled_group(11, dtype)
    index = torch.tensor([2, 9, 2, 0])  # a duplicate receives both gradients
    leaves = [t.clone().requires_grad_() for t in tensors]
    ref_leaves = [t.clone().requires_grad_() for t in tensors]
    weights = [torch.randn(o.shape, dtype=dtype) for o in reference.channel_gather(tensors, index, dims)]
    sum((o * w).sum() for o, w in zip(channel_gather(leaves, index, dims), weights)).backward()
    sum((o * w).sum() for o, w in zip(reference.channel_gather(ref_leaves, index, dims), weights)).backward()
    for a, b in zip(leaves, ref_leaves):
        torch.testing.assert_close(a.grad, b.grad)


def test_gradient_when_only_some_outputs_are_used():
    a, b = torch.randn(4, 3, requires_grad=True), torch.randn(4, requires_grad=True)
    out_a, _ = channel_gather([a, b], torch.tensor([1, 3]), [0, 0])
    out_a.sum().backward()
    assert b.grad is None or not b.grad.any()  # autograd may materialise zeros
    expected = torch.zeros(4, 3)
    expected[[1, 3]] = 1
    torch.testing.assert_close(a.grad, expected)


def test_gradcheck_float64():
    tensors, dims = coupled_group(5, torch.float64)
    leaves = [t.requires_grad_() for t in tensors]
    index = torch.tensor([4, 0, 4])
    assert torch.autograd.gradcheck(lambda *ts: channel_gather(list(ts), index, dims), leaves)


def test_opcheck(group):
    tensors, dims = group
    for requires_grad in (False, True):
        args = ([t.clone().requires_grad_(requires_grad) for t in tensors], torch.tensor([1, 0, 7]), dims)
        torch.library.opcheck(torch.ops.razor_ext.channel_gather.default, args)


def test_torch_compile_fullgraph(group):
    tensors, dims = group
    index = torch.tensor([10, 2, 5])

    @torch.compile(fullgraph=True)
    def prune_and_sum(ts, idx):
        return [o * 2 for o in channel_gather(ts, idx, dims)]

    for got, expected in zip(prune_and_sum(tensors, index), reference.channel_gather(tensors, index, dims)):
        torch.testing.assert_close(got, expected * 2)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: channel_gather([torch.randn(3, 4)], torch.tensor([3]), [0]), IndexError, ["index[0] = 3", "tensors[0]", "3 channels"]),
        (lambda: channel_gather([torch.randn(5, 4), torch.randn(2)], torch.tensor([0, 4]), [0, 0]), IndexError, ["index[1] = 4", "tensors[1]"]),
        (lambda: channel_gather([torch.randn(3, 4)], torch.tensor([-1]), [0]), IndexError, ["index[0] = -1"]),
        (lambda: channel_gather([torch.randn(3, 4)], torch.tensor([0]), [-1]), ValueError, ["dims[0] = -1", "negative dims"]),
        (lambda: channel_gather([torch.randn(3, 4)], torch.tensor([0]), [2]), ValueError, ["dims[0] = 2"]),
        (lambda: channel_gather([torch.randn(3, 4)], torch.tensor([0]), [0, 1]), ValueError, ["same length", "1 tensors and 2 dims"]),
        (lambda: channel_gather([torch.randn(3, 4)], torch.tensor([0.0]), [0]), TypeError, ["index", "float32"]),
        (lambda: channel_gather([torch.randn(3, 4)], torch.tensor([[0]]), [0]), ValueError, ["index must be 1-D"]),
        (lambda: channel_gather([torch.randn(3, 4), torch.randn(3, device="meta")], torch.tensor([0]), [0, 0]), ValueError, ["tensors[1] is on meta"]),
        (lambda: channel_gather([torch.randn(3, 4, device="meta")], torch.tensor([0]), [0]), ValueError, ["index is on cpu"]),
        (lambda: channel_gather(torch.randn(3, 4), torch.tensor([0]), [0]), TypeError, ["tensors must be a list"]),
        (lambda: channel_gather([torch.randn(3, 4), "w"], torch.tensor([0]), [0, 0]), TypeError, ["tensors[1]"]),
        (lambda: channel_gather([torch.randn(3, 4)], torch.tensor([0]), [0.0]), TypeError, ["dims[0]"]),
        (lambda: channel_gather([torch.randn(3, 4).to_sparse()], torch.tensor([0]), [0]), TypeError, ["tensors[0]", "strided"]),
    ],
)
def test_bad_input_names_the_argument(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_build_info_lists_the_op():
    info = razor_ext.build_info()
    assert "channel_gather" in info["ops"] and "channel_norms" in info["ops"]
