"""The AVX512_BF16 path of weight_only_linear (csrc/cpu/weight_only_bf16.cpp: codes as the bf16
numbers 128 + q, one vdpbf16ps per 32 codes, float32 / float16 activations split in two bf16 parts)
against a float64 reference, on the shapes its loops split differently: group size 32 (two groups
per 64-code chunk), a ragged last group (vector chunks plus a scalar tail), K below one chunk,
column blocks (many tokens, long rows), every token tile (1-9, 16) and row remainders. Skipped,
with the reason, where the path is not active (no AVX512_BF16, or RAZOR_EXT_ISA narrower)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from razor_ext.ops import weight_only_linear
from razor_ext.ops.weight_only_linear import weight_only_cpu_path
from razor_ext.ops.weight_only_pack import dequantize_weight, pack_weight

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(weight_only_cpu_path(128, 4) != "avx512_bf16",
                                reason=f"the CPU path here is {weight_only_cpu_path(128, 4)}, not avx512_bf16")


def weight(n: int, k: int, group_size: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    groups = (k + group_size - 1) // group_size
    q = torch.randint(0, 16, (n, k), generator=g)
    scales = torch.rand(n, groups, generator=g) * 0.1 + 0.01
    zeros = torch.randint(0, 16, (n, groups), generator=g).to(torch.uint8)
    return pack_weight(q, 4), scales, zeros


def errors(x: torch.Tensor, n: int, group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(|kernel - float64 reference|, allowance) per output: the allowance is 2e-5 of
    sum_k |x_k w_k| plus the rounding of the result to ``x.dtype``."""
    packed, scales, zeros = weight(n, x.shape[-1], group_size)
    w = dequantize_weight(packed, scales, zeros, group_size, 4, x.shape[-1]).double()
    got = weight_only_linear(x, packed, scales, zeros, group_size, 4).double()
    xd = x.double()
    want = xd @ w.t()
    out_eps = 0.0 if x.dtype == torch.float32 else torch.finfo(x.dtype).eps
    return (got - want).abs(), 2e-5 * (xd.abs() @ w.abs().t()) + out_eps * want.abs() + 1e-6


@pytest.mark.parametrize("group_size", [32, 64, 128, 256])
@pytest.mark.parametrize("m,n,k", [(1, 37, 512), (2, 9, 320), (3, 6, 200), (5, 11, 96), (9, 5, 257),
                                   (16, 7, 130), (7, 4, 40)])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_matches_float64_reference(group_size, m, n, k, dtype):
    x = torch.randn(m, k).to(dtype)
    err, allowed = errors(x, n, group_size)
    # bf16 and float16 activations are held exactly (one / two bf16 parts), float32 ones to 2^-17:
    # what remains is float32 accumulation of x * (128 + q) less (128 + z) * sum(x).
    assert bool((err <= allowed).all()), float((err / allowed).max())
    assert err.shape == (m, n)


def test_float32_keeps_sixteen_bits_of_the_activations():
    # One bf16 part alone would be off by ~2^-9 of each product; the second part brings it near
    # float32. Checked on a layer where the outputs do not cancel (all weights positive).
    x = torch.rand(4, 1024) + 0.5
    packed = pack_weight(torch.full((8, 1024), 12), 4)
    scales, zeros = torch.full((8, 8), 0.05), torch.full((8, 8), 4, dtype=torch.uint8)
    got = weight_only_linear(x, packed, scales, zeros, 128, 4).double()
    want = x.double().sum(-1, keepdim=True) * 0.4 * torch.ones(1, 8, dtype=torch.float64)
    one_part = x.bfloat16().double().sum(-1, keepdim=True) * 0.4
    err = float(((got - want).abs() / want).max())
    assert err < 1e-5
    assert float(((one_part - want).abs() / want).max()) > 3 * err  # the check can fail


def test_many_tokens_take_column_blocks():
    # 16 float32 tokens over K = 4096 exceed the L1 block: the sum crosses several column blocks.
    x = torch.randn(16, 4096)
    err, allowed = errors(x, 24, 128)
    assert bool((err <= allowed).all()), float((err / allowed).max())


def test_non_contiguous_empty_and_gradient():
    packed, scales, zeros = weight(12, 256, 64)
    x = torch.randn(3, 512)[:, ::2].requires_grad_()
    y = weight_only_linear(x, packed, scales, zeros, 64, 4)
    w = dequantize_weight(packed, scales, zeros, 64, 4, 256)
    torch.testing.assert_close(y, x.detach() @ w.t(), rtol=1e-4, atol=1e-4)
    y.sum().backward()
    torch.testing.assert_close(x.grad, w.sum(0).expand(3, -1), rtol=1e-5, atol=1e-5)
    assert weight_only_linear(torch.randn(0, 256), packed, scales, zeros, 64, 4).shape == (0, 12)


def test_path_choice_and_switch_off():
    assert weight_only_cpu_path(32, 4) == "avx512_bf16"
    assert weight_only_cpu_path(96, 4) == "avx512"  # not 32 or a multiple of 64: the float32 tile
    assert weight_only_cpu_path(128, 8) == "avx512"
    assert weight_only_cpu_path(48, 4) == "scalar"
    # RAZOR_EXT_WEIGHT_ONLY_BF16=0 runs the float32 AVX-512 tile, so that this host tests it too.
    code = ("import torch; from tests.ops.test_weight_only_linear import check; "
            "from razor_ext.ops.weight_only_linear import weight_only_cpu_path as p; "
            "assert p(128, 4) == 'avx512', p(128, 4); "
            "[check(torch.randn(m, k), 9, 4, g) for m in (1, 5, 9) for k in (256, 257) for g in (32, 128)]; "
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "RAZOR_EXT_WEIGHT_ONLY_BF16": "0",
                                 "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]
