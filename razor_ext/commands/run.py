"""``razor-ext train | search | prune | distill | quantize CONFIG``: run a config through the
runner, then leave its result in the work dir (:mod:`razor_ext.commands.outputs`) and print
where it is, with the before / after table."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from razor_ext.commands.errors import CommandError
from razor_ext.commands.loading import load_cfg
from razor_ext.commands.measure import format_table
from razor_ext.commands.outputs import Outputs, snapshot_before, write_outputs

__all__ = ['check_device', 'run_config']


def check_device(device: str | None) -> None:
    """Refuse ``--device cuda`` where no CUDA device is available (one line, with a hint)."""
    import torch

    if device and device.startswith('cuda') and not torch.cuda.is_available():
        raise CommandError(f'--device {device}: no CUDA device is available here', 'use --device cpu')


def report(command: str, out: Outputs) -> None:
    """Print the files a command left and its table."""
    print(f'razor-ext {command}: results in {out.work_dir}')
    for role, path in out.files.items():
        print(f'  {role:<14} {path}')
    if out.rows:
        print(format_table(out.rows))


def run_config(command: str, config: str, cfg_options: Sequence[str] = (), work_dir: str | None = None,
               resume: bool = False, device: str | None = None, seed: int | None = None,
               launcher: str = 'none') -> Outputs | None:
    """Run ``config`` as ``razor-ext <command>`` does; returns what it wrote (None on ranks
    other than 0 of a distributed run: rank 0 alone writes and prints).

    ``launcher='pytorch'`` runs data-parallel under ``torchrun`` (docs/distributed.md).

    Example (not run here: it trains):
        run_config('train', 'razor_ext::classification/mnist5k_cnn.py', ['train_cfg.max_epochs=1'])
    """
    from razor_ext.engine import Runner

    check_device(device)
    cfg = load_cfg(config, cfg_options, work_dir, resume, device, seed)
    if launcher != 'none':
        cfg['launcher'] = launcher
    runner = Runner.from_cfg(cfg)
    before = snapshot_before(runner)
    metrics: dict[str, Any] = {}
    if runner.train_loop is not None:
        runner.train()
    if runner.test_loop is not None:
        metrics['test'] = runner.test()
    elif runner.val_loop is not None and runner.train_loop is None:
        metrics['val'] = runner.val()
    out = None
    if runner.is_main_process:
        if metrics:
            print(json.dumps(metrics))
        out = write_outputs(runner, before)
        report(command, out)
    if runner.dist_info.distributed:
        import torch.distributed as dist

        dist.barrier()  # rank 0 may still be writing its last files
        dist.destroy_process_group()
    return out
