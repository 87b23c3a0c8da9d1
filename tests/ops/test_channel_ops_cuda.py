"""CUDA impls of channel_gather / channel_norms (python/channel_ops_cuda.cpp, csrc/cuda/): values
against plain torch, the CPU impl's error messages, CPU/CUDA agreement, and the launch plumbing
(streams, devices, alignment fallbacks, rows longer than a chunk)."""
from __future__ import annotations

import pytest
import torch

import razor_ext
from tests.ops.conftest import coupled_group

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    pytest.mark.skipif(
        not razor_ext.build_info()["cuda"],
        reason="razor_ext was built without CUDA kernels (RAZOR_EXT_CUDA=0 or no CUDA torch)",
    ),
]

CUDA = torch.device("cuda")
gather = torch.ops.razor_ext.channel_gather
norms = torch.ops.razor_ext.channel_norms


def random_tensor(shape, dtype, device=CUDA, generator=None):
    if dtype == torch.bool:
        return torch.rand(shape, generator=generator).lt(0.5).to(device)
    if dtype.is_floating_point or dtype.is_complex:
        return torch.randn(shape, generator=generator).to(device=device, dtype=dtype)
    return torch.randint(-100, 100, shape, generator=generator).to(device=device, dtype=dtype)


def assert_gather_matches_index_select(tensors, index, dims):
    outputs = gather(tensors, index, dims)
    assert len(outputs) == len(tensors)
    for i, (t, d, out) in enumerate(zip(tensors, dims, outputs)):
        expected = t.index_select(d, index)
        assert out.device == t.device, i
        assert out.dtype == t.dtype, i
        assert out.is_contiguous(), i
        assert torch.equal(out, expected), f"tensors[{i}] of shape {tuple(t.shape)}, dim {d}"


def reference_norms(tensors, dims, p):
    channels = tensors[0].shape[dims[0]]
    total = torch.zeros(channels, dtype=torch.float64)
    for t, d in zip(tensors, dims):
        x = t.detach().cpu().double().movedim(d, 0).reshape(channels, -1)
        total += x.abs().sum(1) if p == 1 else x.pow(2).sum(1).sqrt()
    return total


def error_message(fn, *args):
    with pytest.raises(Exception) as info:
        fn(*args)
    return type(info.value), str(info.value).splitlines()[0]


# ---- channel_gather ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype",
    [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32,
     torch.int16, torch.int8, torch.uint8, torch.bool, torch.complex64],
)
def test_gather_every_dtype_and_dim(dtype):
    g = torch.Generator().manual_seed(0)
    shapes_dims = [((6, 5, 3, 3), 0), ((4, 6, 3, 3), 1), ((2, 3, 6), 2), ((6,), 0), ((5, 6), 1)]
    tensors = [random_tensor(s, dtype, generator=g) for s, _ in shapes_dims]
    index = torch.tensor([5, 0, 3, 3, 1], device=CUDA)  # unsorted, with a duplicate
    assert_gather_matches_index_select(tensors, index, [d for _, d in shapes_dims])


def test_gather_mixed_dtypes_in_one_call():
    g = torch.Generator().manual_seed(1)
    specs = [((8, 4, 3, 3), 0, torch.float32), ((8,), 0, torch.float16),
             ((8,), 0, torch.int64), ((16, 8, 1, 1), 1, torch.bfloat16), ((3, 8), 1, torch.bool),
             ((2, 8, 5), 1, torch.int8), ((8, 7), 0, torch.float64), ((4, 2, 8), 2, torch.uint8)]
    tensors = [random_tensor(s, dt, generator=g) for s, _, dt in specs]
    index = torch.tensor([7, 2, 0, 5], device=CUDA)
    assert_gather_matches_index_select(tensors, index, [d for _, d, _ in specs])


def test_gather_non_contiguous_and_offset_views():
    g = torch.Generator().manual_seed(2)
    base = random_tensor((10, 12, 5), torch.float32, generator=g)
    tensors = [
        base.transpose(0, 1),  # (12, 10, 5), strided
        base[:, ::2, :],  # (10, 6, 5), step
        base[1:, :6, 1:],  # offset by 4+ bytes: 16-byte moves are not aligned
        random_tensor((7, 6, 3), torch.float16, generator=g)[1:, :, :],  # 2-byte aligned offset
        random_tensor((13, 6), torch.uint8, generator=g)[1:, :],  # 1-byte aligned offset
        random_tensor((6, 9), torch.float64, generator=g).t(),  # (9, 6), column-major
    ]
    dims = [1, 1, 1, 1, 1, 1]
    assert not tensors[0].is_contiguous()
    index = torch.tensor([5, 4, 0, 2], device=CUDA)
    assert_gather_matches_index_select(tensors, index, dims)


@pytest.mark.parametrize("row_elements", [1, 3, 4, 33, 255, 256, 257, 1025, 70_000])
def test_gather_row_lengths_around_group_and_chunk_sizes(row_elements):
    # 1-element rows (one thread each) up to rows longer than a whole 32 KiB chunk.
    g = torch.Generator().manual_seed(row_elements)
    tensors = [random_tensor((9, row_elements), torch.float32, generator=g),
               random_tensor((3, 9, row_elements), torch.float16, generator=g),
               random_tensor((9, row_elements), torch.int8, generator=g)]
    index = torch.tensor([8, 1, 1, 4, 0, 7], device=CUDA)
    assert_gather_matches_index_select(tensors, index, [0, 1, 0])


def test_gather_many_rows_per_chunk_with_small_index():
    # inner == 1 with a long outer: many gathered rows per block, index shorter than the groups.
    g = torch.Generator().manual_seed(3)
    tensors = [random_tensor((5000, 7), torch.float32, generator=g),
               random_tensor((3000, 7), torch.int16, generator=g)]
    for index in ([3], [6, 0], [1, 2, 3, 4, 5, 6, 0, 1, 2]):
        assert_gather_matches_index_select(tensors, torch.tensor(index, device=CUDA), [1, 1])


def test_gather_resnet_sized_call():
    # Channel groups of a ResNet-50-like net: conv/bn along dim 0, next conv along dim 1.
    g = torch.Generator().manual_seed(4)
    tensors, dims = [], []
    for channels, kernel in [(64, 1), (64, 3), (256, 1)] * 30:
        tensors += [random_tensor((channels, 32, kernel, kernel), torch.float32, generator=g)]
        tensors += [random_tensor((channels,), torch.float32, generator=g) for _ in range(4)]
        tensors += [random_tensor((48, channels, kernel, kernel), torch.float32, generator=g)]
        dims += [0, 0, 0, 0, 0, 1]
    index = torch.randperm(64, generator=g)[:40].to(CUDA)
    assert len(tensors) > 267
    assert_gather_matches_index_select(tensors, index, dims)


def test_gather_empty_index_and_no_tensors():
    t = random_tensor((4, 5), torch.float32)
    u = random_tensor((2, 4), torch.int32)
    empty = torch.empty(0, dtype=torch.int64, device=CUDA)
    outputs = gather([t, u], empty, [0, 1])
    assert [tuple(o.shape) for o in outputs] == [(0, 5), (2, 0)]
    assert all(o.device == t.device for o in outputs)
    assert gather([], torch.tensor([0, 1], device=CUDA), []) == []
    # Zero-element tensors with a valid index: nothing to copy, shapes still right.
    z = random_tensor((3, 0), torch.float32)
    (out,) = gather([z], torch.tensor([2, 0], device=CUDA), [0])
    assert tuple(out.shape) == (2, 0)


@pytest.mark.parametrize("bad", [[0, 5, 1, 9], [1, -1, 0], [7]])
def test_gather_out_of_range_index_raises_the_cpu_message(bad):
    tensors = [random_tensor((6, 3), torch.float32), random_tensor((2, 5, 3), torch.float16)]
    dims = [0, 1]
    index = torch.tensor(bad)
    cpu = error_message(gather, [t.cpu() for t in tensors], index, dims)
    cuda = error_message(gather, tensors, index.to(CUDA), dims)
    assert cuda == cpu
    assert cuda[0] is IndexError
    assert "is out of range for tensors[1] with 5 channels along dim 1" in cuda[1]


@pytest.mark.parametrize(
    "make_args",
    [
        lambda t: ([t], torch.tensor([0], device=CUDA), [0, 1]),  # lengths differ
        lambda t: ([t], torch.tensor([0], device=CUDA), [2]),  # dim out of range
        lambda t: ([t], torch.tensor([0], device=CUDA, dtype=torch.int32), [0]),  # index dtype
        lambda t: ([t], torch.tensor([[0]], device=CUDA), [0]),  # index not 1-D
    ],
)
def test_gather_argument_errors_match_cpu(make_args):
    t = random_tensor((4, 3), torch.float32)
    tensors, index, dims = make_args(t)
    cpu = error_message(gather, [x.cpu() for x in tensors], index.cpu(), dims)
    assert error_message(gather, tensors, index, dims) == cpu


def test_gather_rejects_index_on_another_device():
    t = random_tensor((4, 3), torch.float32)
    with pytest.raises(ValueError, match="index and tensors must be on one device"):
        gather([t], torch.tensor([0]), [0])


def test_gather_cpu_and_cuda_agree():
    g = torch.Generator().manual_seed(5)
    cpu_tensors = [random_tensor(s, dt, device="cpu", generator=g) for s, dt in
                   [((32, 16, 3, 3), torch.float32), ((32,), torch.bfloat16),
                    ((64, 32), torch.int64), ((3, 32, 7), torch.bool)]]
    dims = [0, 0, 1, 1]
    index = torch.randint(0, 32, (20,), generator=g)
    expected = gather(cpu_tensors, index, dims)
    actual = gather([t.to(CUDA) for t in cpu_tensors], index.to(CUDA), dims)
    for e, a in zip(expected, actual):
        assert torch.equal(e, a.cpu())


def test_gather_runs_on_the_current_stream():
    g = torch.Generator().manual_seed(6)
    tensors = [random_tensor((256, 64, 3, 3), torch.float32, generator=g) for _ in range(4)]
    index = torch.randperm(256, generator=g)[:100].to(CUDA)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        outputs = gather(tensors, index, [0, 1, 0, 1])
    side.synchronize()
    for t, d, out in zip(tensors, [0, 1, 0, 1], outputs):
        assert torch.equal(out, t.index_select(d, index))


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_gather_and_norms_on_a_second_device():
    device = torch.device("cuda", 1)
    t = random_tensor((6, 5), torch.float32, device=device)
    index = torch.tensor([4, 0], device=device)
    (out,) = gather([t], index, [0])
    assert out.device == device and torch.equal(out, t.index_select(0, index))
    result = norms([t], [0], 2)
    assert result.device == device
    torch.testing.assert_close(result.cpu().double(), reference_norms([t], [0], 2))


def test_gather_gradient_matches_index_select():
    x = torch.randn(6, 4, 3, device=CUDA, dtype=torch.float64, requires_grad=True)
    index = torch.tensor([5, 1, 1], device=CUDA)
    (out,) = razor_ext.ops.channel_gather([x], index, [0])
    weights = torch.randn_like(out)
    (grad,) = torch.autograd.grad((out * weights).sum(), x)
    (expected,) = torch.autograd.grad((x.index_select(0, index) * weights).sum(), x)
    torch.testing.assert_close(grad, expected)


def test_gather_opcheck():
    tensors = [torch.randn(6, 4, device=CUDA), torch.randn(3, 6, device=CUDA)]
    torch.library.opcheck(gather, (tensors, torch.tensor([5, 0, 2], device=CUDA), [0, 1]))


# ---- channel_norms ----------------------------------------------------------------------------

NORM_DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]


def assert_norms_match_reference(tensors, dims, p):
    result = norms(tensors, dims, p)
    expected_dtype = torch.float64 if tensors[0].dtype == torch.float64 else torch.float32
    assert result.dtype == expected_dtype
    assert result.device == tensors[0].device
    expected = reference_norms(tensors, dims, p)
    # Elements are widened exactly and summed in double: only the output rounding and the order
    # of the atomic adds separate the kernel from the float64 reference.
    rtol = 1e-10 if expected_dtype == torch.float64 else 2e-6
    torch.testing.assert_close(result.cpu().double(), expected, rtol=rtol, atol=1e-30)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("dtype", NORM_DTYPES)
def test_norms_mixed_shapes_and_dims(dtype, p):
    g = torch.Generator().manual_seed(7)
    channels = 24
    specs = [((channels, 16, 3, 3), 0), ((channels,), 0), ((40, channels, 3, 3), 1),
             ((40, channels, 1, 1), 1), ((10, channels), 1), ((2, 3, channels), 2),
             ((channels, 300), 0)]
    tensors = [random_tensor(s, dtype, generator=g) for s, _ in specs]
    assert_norms_match_reference(tensors, [d for _, d in specs], p)


@pytest.mark.parametrize("channels", [1, 3, 255, 256, 257, 1000])
@pytest.mark.parametrize("inner", [1, 2, 9, 32, 33, 300, 20_000])
def test_norms_channel_counts_around_the_group_sizes(channels, inner):
    # One element per row (inner == 1) takes the same-channel stride path; long rows use the
    # whole block per row and rows longer than a chunk stay in one block.
    outer = max(1, 40_000 // (channels * inner))
    g = torch.Generator().manual_seed(channels * 100_003 + inner)
    tensors = [random_tensor((outer, channels, inner), torch.float32, generator=g),
               random_tensor((channels, inner), torch.float32, generator=g)]
    for p in (1, 2):
        assert_norms_match_reference(tensors, [1, 0], p)


@pytest.mark.parametrize("dtype", NORM_DTYPES)
def test_norms_non_contiguous_inputs(dtype):
    g = torch.Generator().manual_seed(8)
    base = random_tensor((12, 20, 7), dtype, generator=g)
    tensors = [base.transpose(0, 1), base[:, :, 2], base.permute(2, 1, 0)[1:, :, ::2]]
    dims = [0, 1, 1]
    assert not tensors[0].is_contiguous()
    for p in (1, 2):
        assert_norms_match_reference(tensors, dims, p)


def test_norms_special_values():
    x = torch.tensor([[1.0, float("inf")], [float("nan"), 2.0], [-3.0, 0.0]], device=CUDA)
    result = norms([x], [0], 1).cpu()
    assert result[0].item() == float("inf")
    assert torch.isnan(result[1])
    assert result[2].item() == 3.0


def test_norms_empty_tensors_and_zero_channels():
    empty_rows = torch.empty(0, 5, 3, device=CUDA)
    full = torch.randn(4, 5, device=CUDA)
    result = norms([empty_rows, full], [1, 1], 2)
    torch.testing.assert_close(result.cpu().double(), reference_norms([full], [1], 2))
    zero_inner = torch.empty(5, 0, device=CUDA)
    assert torch.equal(norms([zero_inner], [0], 1).cpu(), torch.zeros(5))
    no_channels = norms([torch.empty(3, 0, device=CUDA)], [1], 1)
    assert tuple(no_channels.shape) == (0,) and no_channels.device.type == CUDA.type


@pytest.mark.parametrize("dtype", NORM_DTYPES)
@pytest.mark.parametrize("p", [1, 2])
def test_norms_cpu_and_cuda_agree(dtype, p):
    g = torch.Generator().manual_seed(9)
    cpu_tensors = [random_tensor(s, dtype, device="cpu", generator=g)
                   for s in [(64, 32, 3, 3), (64,), (128, 64, 1, 1), (10, 64)]]
    dims = [0, 0, 1, 1]
    expected = norms(cpu_tensors, dims, p)
    actual = norms([t.to(CUDA) for t in cpu_tensors], dims, p)
    assert actual.dtype == expected.dtype
    # The CPU kernel sums float lanes within 4096-element blocks; CUDA sums in double.
    rtol = 1e-10 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(actual.cpu(), expected, rtol=rtol, atol=0)


@pytest.mark.parametrize(
    "make_args",
    [
        lambda: ([torch.ones(4, 3), torch.ones(4, 3, dtype=torch.float64)], [0, 0], 1),
        lambda: ([torch.ones(4, 3, dtype=torch.int32)], [0], 1),
        lambda: ([torch.ones(4, 3)], [0], 3),
        lambda: ([torch.ones(4, 3), torch.ones(5, 3)], [0, 0], 2),
        lambda: ([torch.ones(4, 3)], [2], 1),
    ],
)
def test_norms_argument_errors_match_cpu(make_args):
    tensors, dims, p = make_args()
    cpu = error_message(norms, tensors, dims, p)
    assert error_message(norms, [t.to(CUDA) for t in tensors], dims, p) == cpu


def test_norms_runs_on_the_current_stream():
    g = torch.Generator().manual_seed(10)
    tensors = [random_tensor((128, 256, 3, 3), torch.float32, generator=g),
               random_tensor((128,), torch.float32, generator=g)]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        result = norms(tensors, [0, 0], 2)
    side.synchronize()
    torch.testing.assert_close(result.cpu().double(), reference_norms(tensors, [0, 0], 2),
                               rtol=2e-6, atol=0)


def test_norms_opcheck():
    tensors = [torch.randn(6, 4, device=CUDA), torch.randn(3, 6, device=CUDA)]
    torch.library.opcheck(norms, (tensors, [0, 1], 2))


# ---- both ops through the Python faces -----------------------------------------------------------


@pytest.mark.parametrize("dtype", NORM_DTYPES)
def test_coupled_group_cpu_and_cuda_agree_through_the_python_ops(dtype):
    tensors, dims = coupled_group(11, dtype)
    cuda_tensors = [t.to(CUDA) for t in tensors]
    keep = [10, 3, 0, 7, 3]
    expected = razor_ext.ops.channel_gather(tensors, keep, dims)
    actual = razor_ext.ops.channel_gather(cuda_tensors, keep, dims)
    for e, a in zip(expected, actual):
        assert torch.equal(e, a.cpu())
    rtol = 1e-10 if dtype == torch.float64 else 1e-5
    for p in (1, 2):
        torch.testing.assert_close(razor_ext.ops.channel_norms(cuda_tensors, dims, p).cpu(),
                                   razor_ext.ops.channel_norms(tensors, dims, p), rtol=rtol, atol=0)
