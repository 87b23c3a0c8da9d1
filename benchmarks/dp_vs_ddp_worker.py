"""One rank of ``test_bench_dp_vs_ddp.py``: SPOS supernet steps on 2 gloo ranks, timed round
robin between razor_ext's scheme (no wrapper, one flat all-reduce before ``optimizer.step()``)
and ``DistributedDataParallel(find_unused_parameters=True)`` (DDP's way for a supernet whose
used parameters change every step; ``static_graph=True`` is not an option: it assumes the same
used set every step). Rank 0 writes the per-round seconds to ARGV[2] as JSON.

Both roles start each round from the same weights and train the same sampled subnets on the
same batches, so they do the same arithmetic; the difference is how gradients are reduced.
"""
from __future__ import annotations

import copy
import json
import random
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from razor_ext.engine.distributed import DataParallelContext
from razor_ext.registry import MODELS

STEPS, ROUNDS, BATCH = 20, 5, 64


def _steps(model: torch.nn.Module, forward: torch.nn.Module, opt: torch.optim.Optimizer,
           batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    random.seed(0)
    torch.manual_seed(0)
    dist.barrier()
    start = time.perf_counter()
    for images, labels in batches:
        opt.zero_grad()
        loss = forward(images, labels, mode='loss')['loss']
        loss.backward()
        opt.step()
    dist.barrier()
    return time.perf_counter() - start


def main(out: str) -> None:
    dist.init_process_group('gloo')
    torch.set_num_threads(1)
    torch.manual_seed(0)
    template = MODELS.build(dict(type='SPOS', architecture=dict(type='SearchableMnistNet', width=8, depth=2)))
    gen = torch.Generator().manual_seed(dist.get_rank())
    batches = [(torch.randn(BATCH, 1, 28, 28, generator=gen), torch.randint(0, 10, (BATCH,), generator=gen))
               for _ in range(STEPS)]
    seconds: dict[str, list[float]] = {'razor_ext (average at step)': [], 'DDP find_unused_parameters': []}
    states = {}
    for r in range(ROUNDS):
        for role in (list(seconds) if r % 2 == 0 else list(seconds)[::-1]):
            model = copy.deepcopy(template).train()
            opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
            if role.startswith('razor_ext'):
                ctx = DataParallelContext(model, broadcast_buffers=True).attach(opt)
                seconds[role].append(_steps(model, model, opt, batches))
                ctx.detach()
            else:
                ddp = DistributedDataParallel(model, find_unused_parameters=True)
                seconds[role].append(_steps(model, ddp, opt, batches))
            states[role] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    a, b = states.values()
    diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    if dist.get_rank() == 0:
        Path(out).write_text(json.dumps({'seconds': seconds, 'steps': STEPS, 'batch': BATCH,
                                         'max_param_diff': diff}))
    dist.destroy_process_group()


if __name__ == '__main__':
    main(sys.argv[1])
