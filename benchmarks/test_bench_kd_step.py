"""A whole knowledge-distillation training step against what it cannot avoid, in one run.

- ours: ``SingleTeacherDistill.train_step`` (the distill example's config: MnistCNN(width=8)
  student, frozen MnistCNN(width=16) teacher, ``ModuleOutputs`` recorders on both heads,
  ``KLDivergence(tau=4)`` + the student's cross-entropy): preprocess, teacher forward under
  ``no_grad``, student forward, both losses, backward, SGD step, loss logging.
- floor: the bare student step in plain PyTorch (zero_grad, cross-entropy, backward, SGD step)
  plus the teacher's forward under ``no_grad``: the least any KD step must do.
- algo floor: the student step through ``BaseAlgorithm.train_step`` (same framework path
  without the distiller) plus the teacher forward.

Batch 64 of 28x28 digits, 2 threads. Issue 8's target: ours / floor <= 1.10.
"""
from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from razor_ext.algorithm import BaseAlgorithm
from razor_ext.architectures import MnistCNN

BATCH = 64
TARGET = 1.10


def kd_algorithm(student: torch.nn.Module, teacher: torch.nn.Module) -> torch.nn.Module:
    """examples/distill_mnist.py's algorithm (config dict, KLDivergence(tau=4) on the heads' logits)."""
    path = Path(__file__).resolve().parents[1] / 'examples' / 'distill_mnist.py'
    spec = importlib.util.spec_from_file_location('distill_mnist', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.kd_algorithm(student, teacher, tau=4.0, loss_weight=1.0)


@pytest.fixture(scope='module')
def kd_roles():
    torch.manual_seed(0)
    teacher = MnistCNN(width=16).eval().requires_grad_(False)
    student = MnistCNN(width=8)
    bare, framed = copy.deepcopy(student), copy.deepcopy(student)
    algo = kd_algorithm(student, teacher).train()
    plain = BaseAlgorithm(framed).train()
    x, y = torch.randn(BATCH, 1, 28, 28), torch.randint(0, 10, (BATCH,))

    def sgd(params):
        return torch.optim.SGD(params, lr=0.01, momentum=0.9)

    opt_kd, opt_bare, opt_framed = sgd(algo.parameters()), sgd(bare.parameters()), sgd(plain.parameters())
    bare.train()

    def ours():
        return algo.train_step((x, y), opt_kd)

    def floor():
        opt_bare.zero_grad()
        F.cross_entropy(bare(x), y).backward()
        opt_bare.step()
        with torch.no_grad():
            teacher(x)

    def algo_floor():
        plain.train_step((x, y), opt_framed)
        with torch.no_grad():
            teacher(x)

    return dict(ours=ours, floor=floor, algo_floor=algo_floor), teacher


def test_kd_step_round_robin(paired, paired_ratio, kd_roles):
    roles, teacher = kd_roles
    before = [p.clone() for p in teacher.parameters()]
    group = f'kd step MnistCNN 16->8 batch {BATCH}'
    paired(group, {'ours': roles['ours'], 'floor': roles['floor'], 'algo floor': roles['algo_floor']})
    # The timed steps trained the student only: the frozen teacher is untouched.
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))
    assert all(p.grad is None for p in teacher.parameters())
    for base in ('floor', 'algo floor'):
        ratio = paired_ratio(group, 'ours', base)
        if ratio is not None:
            print(f'\n{group}: ours / {base} = {ratio}; target <= {TARGET:.2f}x')
