"""Accuracy after N epochs of SPOS supernet training: 1 process vs 2 gloo ranks, without and
with ``auto_scale_lr`` (docs/distributed.md), through the same ``torchrun ... -m razor_ext train``
command a user runs, over several seeds.

Two ranks of 64 images take half the steps of one process in an epoch (63 -> 32 on the 4,000
training images); without scaling they also take them at the single process's LR. With
``auto_scale_lr=dict(enable=True, base_batch_size=64)`` the LR doubles (the total batch is 128).
The control role, one process with a batch of 128, is the run that 2 ranks reproduce.

    python benchmarks/dist_lr_scaling.py --seeds 0 1 2 --epochs 1   # minutes; a markdown table
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / 'configs/nas/spos/spos_searchable_mnist_supernet.py'
ROLES = {'1 process x 64': (1, []), '1 process x 128': (1, ['train_dataloader.batch_size=128']),
         '2 gloo ranks x 64': (2, []), '2 gloo ranks x 64 + auto_scale_lr': (2, ['auto_scale_lr.enable=True'])}


def run(nproc: int, extra: list[str], seed: int, epochs: int) -> float:
    """Test top-1 (%) after ``epochs`` epochs."""
    with tempfile.TemporaryDirectory() as tmp:
        options = [f'train_cfg.max_epochs={epochs}'] + extra
        env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT)}
        out = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone',
                              '--nproc-per-node', str(nproc), '-m', 'razor_ext', 'train', str(CONFIG),
                              '--launcher', 'pytorch', '--work-dir', tmp, '--seed', str(seed),
                              '--cfg-options', *options],
                             env=env, check=True, capture_output=True, text=True, timeout=1800).stdout
        metrics = next(json.loads(line) for line in out.splitlines() if line.startswith('{"test"'))
        return float(metrics['test']['accuracy/top1'])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=1)
    args = parser.parse_args()
    results: dict[str, list[float]] = {role: [] for role in ROLES}
    for seed in args.seeds:
        for role, (nproc, extra) in ROLES.items():
            results[role].append(run(nproc, extra, seed, args.epochs))
            print(f'seed {seed} {role}: {results[role][-1]:.1f}', file=sys.stderr)
    print(f'| role | test top-1 % after {args.epochs} epoch(s), mean ± std over seeds {args.seeds} |\n|---|---|')
    for role, values in results.items():
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f'| {role} | {statistics.mean(values):.1f} ± {std:.1f} |')


if __name__ == '__main__':
    main()
