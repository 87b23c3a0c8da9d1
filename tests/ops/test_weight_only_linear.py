"""weight_only_linear against its reference (dequantise, then F.linear in float32): values and
input gradients for int4 / int8, group sizes 32/64/128 (vector paths) and others (scalar path),
odd sizes, ragged last groups, float32 / bfloat16 / float16 activations, non-contiguous and
empty inputs, errors, opcheck, gradcheck and torch.compile."""
from __future__ import annotations

import pytest
import torch

from razor_ext.ops import reference, weight_only_linear
from razor_ext.ops.weight_only_pack import dequantize_weight, pack_weight, unpack_weight


def make_weight(n, k, bits, group_size, seed=0):
    g = torch.Generator().manual_seed(seed)
    groups = (k + group_size - 1) // group_size
    q = torch.randint(0, 2 ** bits, (n, k), generator=g)
    scales = torch.rand(n, groups, generator=g) * 0.1 + 0.01
    zeros = torch.randint(0, 2 ** bits, (n, groups), generator=g).to(torch.uint8)
    return pack_weight(q, bits), scales, zeros


def check(x, n, bits, group_size, rtol=1e-4, atol=1e-4):
    packed, scales, zeros = make_weight(n, x.shape[-1], bits, group_size)
    xa = x.detach().clone().requires_grad_()
    xb = x.detach().clone().requires_grad_()
    got = weight_only_linear(xa, packed, scales, zeros, group_size, bits)
    want = reference.weight_only_linear(xb, packed, scales, zeros, group_size, bits)
    assert got.dtype == x.dtype and got.shape == want.shape
    torch.testing.assert_close(got.float(), want.float(), rtol=rtol, atol=atol)
    grad = torch.randn_like(got)
    got.backward(grad)
    want.backward(grad)
    torch.testing.assert_close(xa.grad.float(), xb.grad.float(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("group_size", [32, 64, 128, 48, 7])
@pytest.mark.parametrize("m,n,k", [(1, 33, 256), (3, 7, 257), (5, 16, 100), (17, 9, 384)])
def test_matches_reference_float32(bits, group_size, m, n, k):
    check(torch.randn(m, k), n, bits, group_size)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("bits", [4, 8])
def test_reduced_precision_activations(dtype, bits):
    check(torch.randn(6, 256).to(dtype), 20, bits, 64, rtol=2e-2, atol=2e-2)


def test_non_contiguous_and_3d_input():
    x = torch.randn(4, 5, 512)[:, :, ::2]
    assert not x.is_contiguous()
    check(x, 12, 4, 128)
    check(torch.randn(2, 3, 128).transpose(0, 1), 8, 8, 32)


def test_empty_batch_and_gradient():
    check(torch.randn(0, 128), 8, 4, 32)
    packed, scales, zeros = make_weight(8, 128, 4, 32)
    x = torch.randn(2, 0, 128, requires_grad=True)
    y = weight_only_linear(x, packed, scales, zeros, 32, 4)
    assert y.shape == (2, 0, 8)
    y.sum().backward()
    assert x.grad.shape == x.shape


def test_pack_round_trip_and_layout():
    q = torch.randint(0, 16, (5, 9))
    packed = pack_weight(q, 4)
    assert packed.shape == (5, 5)
    assert torch.equal(unpack_weight(packed, 9, 4), q.to(torch.int32))
    # MatMulNBits' order: element 2j in the low nibble of byte j.
    assert int(packed[0, 0]) == int(q[0, 0]) | (int(q[0, 1]) << 4)


def test_int4_equals_float_linear_of_dequantized_weight():
    packed, scales, zeros = make_weight(64, 4096, 4, 128, seed=3)
    x = torch.randn(1, 4096)
    w = dequantize_weight(packed, scales, zeros, 128, 4, 4096)
    torch.testing.assert_close(weight_only_linear(x, packed, scales, zeros, 128, 4),
                               torch.nn.functional.linear(x, w), rtol=1e-4, atol=1e-3)


def test_errors_name_the_argument():
    packed, scales, zeros = make_weight(8, 64, 4, 32)
    x = torch.randn(2, 64)
    with pytest.raises(ValueError, match="bits"):
        weight_only_linear(x, packed, scales, zeros, 32, 3)
    with pytest.raises(ValueError, match="packed_weight"):
        weight_only_linear(torch.randn(2, 66), packed, scales, zeros, 32, 4)
    with pytest.raises(ValueError, match="scales"):
        weight_only_linear(x, packed, scales[:, :1], zeros, 32, 4)
    with pytest.raises(TypeError, match="zeros"):
        weight_only_linear(x, packed, scales, zeros.float(), 32, 4)
    with pytest.raises(TypeError, match="x must be"):
        weight_only_linear(x.double(), packed, scales, zeros, 32, 4)
    with pytest.raises(ValueError, match="group_size"):
        weight_only_linear(x, packed, scales, zeros, 0, 4)
    with pytest.raises(TypeError, match="group_size"):
        weight_only_linear(x, packed, scales, zeros, 32.0, 4)


@pytest.mark.parametrize("bits", [4, 8])
def test_opcheck(bits):
    packed, scales, zeros = make_weight(8, 96, bits, 32)
    for x in (torch.randn(3, 96), torch.randn(3, 96, requires_grad=True), torch.randn(2, 96).bfloat16()):
        torch.library.opcheck(torch.ops.razor_ext.weight_only_linear.default,
                              (x, packed, scales, zeros, 32, bits))


@pytest.mark.filterwarnings("ignore:Input #0 requires gradient")
def test_gradcheck():
    # The op is linear in x, so float32 finite differences are exact up to rounding.
    packed, scales, zeros = make_weight(5, 40, 4, 16)
    x = torch.randn(3, 40, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t: weight_only_linear(t, packed, scales, zeros, 16, 4), (x,), eps=1e-2, atol=1e-2,
        rtol=1e-2)


def test_torch_compile_fullgraph():
    packed, scales, zeros = make_weight(16, 128, 4, 64)

    @torch.compile(fullgraph=True, backend="aot_eager")
    def f(x):
        return torch.relu(weight_only_linear(x, packed, scales, zeros, 64, 4)) * 2

    x = torch.randn(3, 128)
    torch.testing.assert_close(f(x), torch.relu(reference.weight_only_linear(x, packed, scales, zeros, 64, 4)) * 2,
                               rtol=1e-4, atol=1e-4)
