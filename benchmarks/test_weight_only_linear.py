"""weight_only_linear (int4, group 128) at 1, 4 and 16 tokens on 4096x4096 and 4096x11008 layers,
round robin against float32 ``F.linear``, torch's own CPU int4 kernel
(``aten._weight_int4pack_mm_for_cpu``, bfloat16 activations: its fast path) and the memory floor.

Bytes moved per call (int4, g128): the packed weight ``N*K/2`` plus scales and zero points
``N*K/128 * 5`` (float32 + uint8), about 0.54 B per weight; float32 F.linear reads 4 B per weight,
torch's int4 kernel 0.5 B + bfloat16 scale/zero pairs. The "floor" role reads the packed weight
once with the cheapest vectorised reduction torch has (``max`` of its int32 view); the "copy" role
copies as many bytes as ours reads (so it moves twice that: read + write), which gives the memory
bandwidth measured in the same run, and the floor of ours as ``copy / 2``.

On an AVX512_BF16 CPU ours runs ``vdpbf16ps`` on codes turned into bf16 (see
``razor_ext.ops.weight_only_linear.weight_only_cpu_path``); "ours" has float32 activations (split in
two bf16 parts), "ours bf16" bfloat16 ones (one part).

Standalone, with absolute times:  ``python benchmarks/test_weight_only_linear.py [threads] [rounds] [tokens]``
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
    moved = moved_bytes(n, k)
    src, dst = torch.empty(moved, dtype=torch.uint8).fill_(1), torch.empty(moved, dtype=torch.uint8)
    return {
        "ours": lambda: weight_only_linear(x, packed, scales, zeros, GROUP, 4),
        "ours bf16": lambda: weight_only_linear(xb, packed, scales, zeros, GROUP, 4),
        "eager": lambda: torch.nn.functional.linear(x, w),
        "torch int4 bf16": lambda: torch.ops.aten._weight_int4pack_mm_for_cpu(xb, int4pack, GROUP, scale_zero),
        "floor": lambda: words.max(),
        "copy": lambda: dst.copy_(src),
    }


def moved_bytes(n: int, k: int) -> int:
    """Bytes ours reads per call: packed codes, float32 scales and uint8 zero points."""
    return n * k // 2 + n * (k // GROUP) * 5


CASES = [(s, t) for s in SHAPES for t in TOKENS]


@pytest.mark.parametrize("shape,tokens", CASES)
def test_round_robin(paired, paired_ratio, shape, tokens):
    group = f"weight_only_linear int4 g128 {shape} x{tokens}"
    paired(group, build(*SHAPES[shape], tokens))
    for mine in ("ours", "ours bf16"):
        for other in ("eager", "torch int4 bf16", "floor", "copy"):
            ratio = paired_ratio(group, other, mine)
            if ratio is not None:
                print(f"\n{group}: {other} / {mine} = {ratio}")
    n, k = SHAPES[shape]
    print(f"\n{group}: ours reads {moved_bytes(n, k) / 2**20:.2f} MiB per call; its floor is copy / 2")


@pytest.mark.parametrize("tokens", [1, 16])
def test_ours_matches_torch(tokens):
    roles = build(256, 512, tokens)
    torch.testing.assert_close(roles["ours"](), roles["eager"](), rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(roles["torch int4 bf16"]().float(), roles["eager"](), rtol=5e-2, atol=5e-2)


def main(threads: int = 2, rounds: int = 60, tokens: int = 0) -> None:
    """Round robin over every role (in an order shuffled each round, as ``paired`` does: a role
    run after "copy" finds the weights evicted), printing the fastest and 10th-percentile round of
    each, the copy bandwidth and the ratios the issue asks about; ``tokens`` > 0 runs that count
    only. A standalone run, outside pytest."""
    import random
    import time

    torch.set_num_threads(threads)
    print(f"{threads} threads, {rounds} rounds; times in ms: fastest / 10th percentile")
    order = random.Random(0)
    for shape, count in CASES:
        if tokens and count != tokens:
            continue
        roles = build(*SHAPES[shape], count)
        times: dict[str, list[float]] = {r: [] for r in roles}
        for _ in range(rounds):
            for role in order.sample(list(roles), len(roles)):
                start = time.perf_counter()
                roles[role]()
                times[role].append(time.perf_counter() - start)
        best = {r: min(v) for r, v in times.items()}
        p10 = {r: sorted(v)[len(v) // 10] for r, v in times.items()}
        moved = moved_bytes(*SHAPES[shape])
        print(f"{shape} x{count}: " + ", ".join(f"{r} {best[r] * 1e3:.3f}/{p10[r] * 1e3:.3f}" for r in roles))
        print(f"    ours reads {moved / 2**20:.2f} MiB; copy bandwidth {2 * moved / best['copy'] / 1e9:.1f} GB/s, "
              f"so the floor is {best['copy'] / 2 * 1e3:.3f} ms; fastest-round ratios: "
              f"F.linear / ours {best['eager'] / best['ours']:.2f}x, torch int4 bf16 / ours "
              f"{best['torch int4 bf16'] / best['ours']:.2f}x, torch int4 bf16 / ours bf16 "
              f"{best['torch int4 bf16'] / best['ours bf16']:.2f}x, "
              f"ours / floor {2 * best['ours'] / best['copy']:.2f}x",
              flush=True)


if __name__ == "__main__":
    import sys

    main(*(int(a) for a in sys.argv[1:4]))
