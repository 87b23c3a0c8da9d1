"""One rank of the distributed-throughput benchmark (started by ``torchrun`` from
``test_bench_distributed.py``): SPOS supernet training on the embedded MNIST-5k train split for
one epoch; rank 0 writes the seconds of ``runner.train()`` and the images trained to ARGV[2]."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch.distributed as dist

from razor_ext.config import Config
from razor_ext.engine import Runner


def main(config: str, out: str, work_dir: str) -> None:
    cfg = Config.fromfile(config)
    cfg.merge_from_dict({'train_cfg.max_epochs': 1, 'launcher': 'pytorch', 'work_dir': work_dir,
                         'default_hooks.logger.console': False})
    cfg['val_cfg'] = cfg['test_cfg'] = None
    cfg['default_hooks']['progress'] = None
    runner = Runner.from_cfg(cfg)
    dist.barrier()
    start = time.perf_counter()
    runner.train()
    dist.barrier()
    seconds = time.perf_counter() - start
    loader = runner.train_loop.dataloader
    images = len(loader.sampler) * runner.world_size
    if runner.is_main_process:
        Path(out).write_text(json.dumps({'seconds': seconds, 'images': images, 'world_size': runner.world_size}))
    dist.destroy_process_group()


if __name__ == '__main__':
    main(*sys.argv[1:4])
