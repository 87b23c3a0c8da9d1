"""The ``razor-ext`` command (also ``python -m razor_ext``).

    razor-ext info    print razor_ext.build_info() as JSON
    razor-ext demo    build info, then prune half the channels of the embedded default model
                      (a ResNet-50) with the channel kernels and check the result against eager
                      PyTorch
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

import torch

import razor_ext
from razor_ext.models.architectures import resnet50
from razor_ext.ops import channel_gather, channel_norms, reference


def _info(_: argparse.Namespace) -> int:
    print(json.dumps(razor_ext.build_info(), indent=2))
    return 0


def _demo(args: argparse.Namespace) -> int:
    print("razor_ext build:", json.dumps(razor_ext.build_info()))
    torch.manual_seed(args.seed)
    model = resnet50()
    tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
    # Tensors that share a dim-0 channel count form one group: one kernel call each.
    groups: dict[int, list[torch.Tensor]] = {}
    for t in tensors:
        groups.setdefault(t.shape[0], []).append(t)
    print(f"default model: ResNet-50, {len(tensors)} tensors, {sum(t.numel() for t in tensors):,} "
          f"values, {len(groups)} channel groups")

    start = time.perf_counter()
    results = []
    for channels, group in groups.items():
        dims = [0] * len(group)
        importance = channel_norms(group, dims, p=1)
        keep = importance.argsort(descending=True)[: max(1, int(channels * (1 - args.ratio)))]
        results.append((group, dims, importance, keep.sort().values))
        results[-1] += (channel_gather(group, results[-1][3], dims),)
    elapsed = time.perf_counter() - start

    for group, dims, importance, keep, pruned in results:
        torch.testing.assert_close(importance, reference.channel_norms(group, dims, 1))
        for got, expected in zip(pruned, reference.channel_gather(group, keep, dims)):
            if not torch.equal(got, expected):
                print(f"MISMATCH: gather of {tuple(got.shape)} differs from index_select", file=sys.stderr)
                return 1
    kept = sum(p.numel() for *_, pruned in results for p in pruned)
    print(f"L1 importance + gather keeping {1 - args.ratio:.0%} of every group's channels: "
          f"{kept:,} values kept in {elapsed * 1e3:.1f} ms (2 kernel calls per group)")
    print("verified: identical to eager PyTorch (index_select, float64 norms)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="razor-ext", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print build information as JSON").set_defaults(run=_info)
    demo = sub.add_parser("demo", help="prune the embedded default model with the channel kernels")
    demo.add_argument("--ratio", type=float, default=0.5, help="fraction of channels to remove")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``razor-ext``; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "demo" and not 0.0 <= args.ratio < 1.0:
        build_parser().error(f"--ratio must be in [0, 1), got {args.ratio}")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
