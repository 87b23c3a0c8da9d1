"""What each rank of the 2-process gloo tests runs (spawned by ``test_two_ranks.py``).

One spawn runs every scenario in turn, so the process start-up and the ``import torch`` are paid
once; each rank saves what the test compares to ``<out>/rank<r>.pt``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from razor_ext.engine import Hook, Runner


def _data(batch: int = 50) -> dict[str, Any]:
    return dict(batch_size=batch, dataset=dict(type='EmbeddedDigits', split='val'),
                sampler=dict(type='DefaultSampler', shuffle=True))


def _cfg(work_dir: Path, model: dict[str, Any], max_epochs: int = 1, **extra: Any) -> dict[str, Any]:
    cfg = dict(model=model, work_dir=str(work_dir), launcher='pytorch',
               randomness=dict(seed=7, deterministic=True), train_dataloader=_data(),
               optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
               train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=max_epochs),
               default_hooks=dict(logger=dict(type='LoggerHook', interval=100, console=False),
                                  progress=None))
    cfg.update(extra)
    return cfg


PLAIN = dict(type='BaseAlgorithm', architecture=dict(type='MnistCNN', width=4))


def straight_cfg(work_dir: Path, max_epochs: int = 2, **extra: Any) -> dict[str, Any]:
    """A plain CNN with synchronised BatchNorm, 5 steps per rank and epoch: the resume tests'
    run (2 epochs: the reference they must end at)."""
    return _cfg(work_dir, PLAIN, max_epochs=max_epochs, sync_bn=True, **extra)


class RecordChoices(Hook):
    """Keeps the subnet each training step used."""

    def __init__(self) -> None:
        self.choices: list[Any] = []

    def after_train_iter(self, runner: Any, **kwargs: Any) -> None:
        current = runner.model.mutator.current_choices
        self.choices.append(dict(current() if callable(current) else current))


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def run_all(rank: int, world_size: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    out_dir = Path(out)
    result: dict[str, Any] = {}

    # Supernet training (SPOS): same subnet on both ranks at every step.
    record = RecordChoices()
    spos = _cfg(out_dir / 'spos', dict(type='SPOS', architecture=dict(type='SearchableMnistNet', width=4, depth=1),
                                       mutator=dict(type='NasMutator')), custom_hooks=[record])
    runner = Runner.from_cfg(spos)
    runner.train()
    result['spos'] = _state(runner.model)
    result['spos_choices'] = record.choices
    result['spos_iters'] = runner.train_loop.iter

    # Distillation with a frozen teacher: never in an optimizer, never all-reduced.
    kd = _cfg(out_dir / 'kd', dict(
        type='SingleTeacherDistill', architecture=dict(type='MnistCNN', width=4),
        teacher=dict(type='MnistCNN', width=8),
        distiller=dict(type='ConfigurableDistiller',
                       student_recorders=dict(logits=dict(type='ModuleOutputs', source='head')),
                       teacher_recorders=dict(logits=dict(type='ModuleOutputs', source='head')),
                       distill_losses=dict(loss_kd=dict(type='KLDivergence', tau=4.0)),
                       loss_forward_mappings=dict(loss_kd=dict(
                           preds_S=dict(from_student=True, recorder='logits'),
                           preds_T=dict(from_student=False, recorder='logits'))))))
    runner = Runner.from_cfg(kd)
    runner.train()
    teacher_ids = {id(p) for p in runner.model.teacher.parameters()}
    opt_ids = {id(p) for g in runner.optim_wrapper.param_groups for p in g['params']}
    result['kd'] = _state(runner.model)
    result['kd_teacher_in_optimizer'] = bool(teacher_ids & opt_ids)

    # QAT: learnable weights and observer statistics end equal on both ranks.
    qat = _cfg(out_dir / 'qat', dict(type='MMArchitectureQuant', architecture=dict(type='MnistCNN', width=4),
                                     input_shapes=(1, 1, 28, 28), mode='qat'),
               train_cfg=dict(type='QATEpochBasedLoop', max_epochs=1))
    runner = Runner.from_cfg(qat)
    runner.train()
    result['qat'] = _state(runner.model)

    # Resume with sync_bn: 2 epochs straight vs 1 epoch, a new job, resumed to 2 epochs. The
    # straight run is also the reference of the killed-and-resumed torchrun job
    # (test_kill_resume.py runs straight_cfg() from a file).
    runner = Runner.from_cfg(straight_cfg(out_dir / 'straight'))
    runner.train()
    result['straight'] = _state(runner.model)
    result['sync_bn_types'] = sorted({type(m).__name__ for m in runner.model.modules() if 'Norm' in type(m).__name__})
    Runner.from_cfg(straight_cfg(out_dir / 'resumed', max_epochs=1)).train()
    runner = Runner.from_cfg(straight_cfg(out_dir / 'resumed', resume=True))
    result['resumed_from_epoch'] = runner.train_loop.epoch
    runner.train()
    result['resumed'] = _state(runner.model)
    result['files_rank1'] = sorted(p.name for p in (out_dir / 'straight').iterdir())

    # Group Fisher: the gate gradients come from the rank-averaged weight gradients, so the
    # Fisher sums and the channel removed are the same on every rank.
    gf = _cfg(out_dir / 'gf', dict(type='GroupFisherAlgorithm', architecture=dict(type='MnistCNN', width=4),
                                   interval=2, example_inputs=torch.zeros(1, 1, 28, 28)))
    runner = Runner.from_cfg(gf)
    runner.train()
    result['gf'] = (runner.model.pruned, [u.kept.tolist() for u in runner.model.mutator.units],
                    runner.model.fisher.tolist())

    # CpuSyncBatchNorm on this rank's half of a batch vs BatchNorm2d on the whole batch.
    from razor_ext.engine.distributed import CpuSyncBatchNorm
    gen = torch.Generator().manual_seed(5)
    full, probe = torch.randn(8, 3, 4, 5, generator=gen), torch.randn(8, 3, 4, 5, generator=gen)
    bn = CpuSyncBatchNorm(3)
    x = full[rank * 4:(rank + 1) * 4].clone().requires_grad_(True)
    (bn(x) * probe[rank * 4:(rank + 1) * 4]).sum().backward()
    weight_grad = bn.weight.grad.clone()
    torch.distributed.all_reduce(weight_grad)
    result['syncbn'] = (None, x.grad.clone(), weight_grad,
                        bn.running_mean.clone(), bn.running_var.clone())

    # Observer statistics: each rank sees its own data; after the sync both hold the global
    # range and the qparams computed from it.
    from razor_ext.quantization.fake_quantize import FakeQuantize
    fq = FakeQuantize(dict(type='MinMaxObserver'), quant_min=0, quant_max=255)
    fq(torch.tensor([-1.0, 0.5]) if rank == 0 else torch.tensor([-0.2, 3.0]))
    fq.sync_across_ranks()
    result['observer'] = (fq.activation_post_process.min_val.item(), fq.activation_post_process.max_val.item(),
                          fq.scale.clone(), fq.zero_point.clone())

    # Evolution search: candidates split between the ranks, scores gathered.
    found = search_once()
    result['search'] = (found.best_choices, found.best_score, [c.score for c in found.candidates])

    # Sandwich rule, DARTS (first and second order), SPOS: vs a single process on the global batch.
    from tests.engine.distributed.two_rank_nas_jobs import run_nas
    result['nas'] = run_nas(rank)

    # DARTS second order through the Runner: its loop over two sharded loaders, a dict of
    # optimizers, and the reducer handed to the algorithm by the runner's DataParallelContext.
    from tests.nas.test_darts_dsnas import supernet
    small = _data(8)
    darts = _cfg(out_dir / 'darts', dict(type='mmrazor.Darts', architecture=supernet(), unroll=True,
                                         mutator=dict(type='mmrazor.NasMutator')),
                 train_dataloader=small,
                 optim_wrapper=dict(architecture=dict(optimizer=dict(type='SGD', lr=0.025, momentum=0.9)),
                                    mutator=dict(optimizer=dict(type='Adam', lr=3e-3))),
                 train_cfg=dict(type='DartsIterBasedTrainLoop', max_iters=2, mutator_dataloader=small))
    runner = Runner.from_cfg(darts)
    runner.train()
    result['darts_runner'] = (_state(runner.model), runner.model._gradient_reducer is not None)

    # auto_scale_lr: 2 ranks x 50 images against a base batch of 25: the LR (and the scheduler's
    # starting point) x4.
    runner = Runner.from_cfg(_cfg(out_dir / 'auto_lr', PLAIN,
                                  auto_scale_lr=dict(enable=True, base_batch_size=25),
                                  param_scheduler=dict(type='StepLR', step_size=1, gamma=0.5)))
    result['auto_lr'] = (runner.lr_scale, runner.current_lr(), runner.schedulers[0][0].base_lrs)

    torch.save(result, out_dir / f'rank{rank}.pt')
    torch.distributed.destroy_process_group()


def search_once() -> Any:
    """An evolution search on a small seeded supernet, scored on a fixed batch (deterministic)."""
    from razor_ext.nas import SPOS, evolution_search

    torch.manual_seed(0)
    algo = SPOS(dict(type='SearchableMnistNet', width=4, depth=2)).eval()
    images, labels = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))

    def score(model: Any) -> float:
        with torch.no_grad():
            return -float(torch.nn.functional.cross_entropy(model(images), labels))

    return evolution_search(algo, score, num_candidates=6, top_k=3, num_mutation=2,
                            num_crossover=2, max_epochs=2, seed=3)
