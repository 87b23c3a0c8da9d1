"""weight_only_linear (int4, group 128) at 1, 4 and 16 tokens on 4096x4096 and 4096x11008 layers,
round robin against float32 ``F.linear``, torch's own CPU int4 kernel
(``aten._weight_int4pack_mm_for_cpu``, bfloat16 activations: its fast path) and the memory floor.

Bytes moved per call (int4, g128): the packed weight ``N*K/2`` plus scales and zero points
``N*K/128 * 5`` (float32 + uint8), about 0.54 B per weight; float32 F.linear reads 4 B per weight,
torch's int4 kernel 0.5 B + bfloat16 scale/zero pairs. The "floor" role reads the packed weight
once with the cheapest vectorised reduction torch has (``max`` of its int32 view): no layer that
holds that weight can be faster.
"""
from __future__ import annotations

import pytest
import torch

from razor_ext.ops import weight_only_linear
from razor_ext.ops.weight_only_pack import pack_weight

GROUP = 128
SHAPES = {"4096x4096": (4096, 4096), "4096x11008": (11008, 4096)}  # (N out, K in)
TOKENS = [1, 4, 16]


def build(n: int, k: int, tokens: int) -> dict:
    g = torch.Generator().manual_seed(0)
    q = torch.randint(0, 16, (n, k), generator=g)
    scales = torch.rand(n, k // GROUP, generator=g) * 0.01 + 1e-3
    zeros = torch.full((n, k // GROUP), 8, dtype=torch.uint8)
    packed = pack_weight(q, 4)
    w = ((q.float() - 8).reshape(n, -1, GROUP) * scales[:, :, None]).reshape(n, k)
    x = torch.randn(tokens, k, generator=g)
    xb = x.bfloat16()
    int4pack = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q.to(torch.int32), 2)
    # torch's int4 kernel: w = (q - 8) * scale + zero, per (group, column) (scale, zero) pairs.
    scale_zero = torch.stack((scales.t(), torch.zeros_like(scales.t())), -1).bfloat16().contiguous()
    words = packed.view(torch.int32)
    return {
        "ours": lambda: weight_only_linear(x, packed, scales, zeros, GROUP, 4),
        "ours bf16": lambda: weight_only_linear(xb, packed, scales, zeros, GROUP, 4),
        "eager": lambda: torch.nn.functional.linear(x, w),
        "torch int4 bf16": lambda: torch.ops.aten._weight_int4pack_mm_for_cpu(xb, int4pack, GROUP, scale_zero),
        "floor": lambda: words.max(),
    }


CASES = [(s, t) for s in SHAPES for t in TOKENS]


@pytest.mark.parametrize("shape,tokens", CASES)
def test_round_robin(paired, paired_ratio, shape, tokens):
    group = f"weight_only_linear int4 g128 {shape} x{tokens}"
    paired(group, build(*SHAPES[shape], tokens))
    for other in ("eager", "torch int4 bf16", "floor"):
        ratio = paired_ratio(group, other, "ours")
        if ratio is not None:
            print(f"\n{group}: {other} / ours = {ratio}")


@pytest.mark.parametrize("tokens", [1, 16])
def test_ours_matches_torch(tokens):
    roles = build(256, 512, tokens)
    torch.testing.assert_close(roles["ours"](), roles["eager"](), rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(roles["torch int4 bf16"]().float(), roles["eager"](), rtol=5e-2, atol=5e-2)
