"""NAS on the SPOS example's supernet (SearchableMnistNet(width=8, depth=2), 4,096 subnets).

- Search throughput: candidates evaluated per second by ``evolution_search`` on the one supernet:
  per candidate, set its choices, recalibrate BN on 4 x 256 training-size images, score it on
  500 validation-size images, and count its FLOPs with ``ResourceEstimator`` (the FLOPs budget
  of examples/spos_mnist.py: half the largest subnet's). ``copy.deepcopy`` is made to fail
  during the search, so the figure is for a search that copies nothing.
- Supernet step vs static step (round robin): ``SPOS.train_step`` on the supernet, with Python's
  RNG reseeded before each step so that SPOS's uniform sample is the same subnet every time
  (sampling is timed too), against the same subnet sliced out by
  ``export_fix_subnet(slice_weight=True)`` and trained through ``BaseAlgorithm.train_step``.
  Same optimizer (SGD, momentum 0.9), batch 64. Issue 11's target: supernet / static <= 1.15x.
"""
from __future__ import annotations

import copy
import random
import time

import pytest
import torch

from razor_ext.demo.measure import accuracy
from razor_ext.nas.search import bn_calibrator, evolution_search
from razor_ext.algorithm import BaseAlgorithm
from razor_ext.nas.algorithms import SPOS
from razor_ext.architectures import SearchableMnistNet
from razor_ext.estimators import ResourceEstimator
from razor_ext.supernet.fix_subnet import export_fix_subnet

BATCH = 64
TARGET = 1.15
POPULATION, EPOCHS = 10, 2


def supernet_algo(seed: int = 0) -> SPOS:
    torch.manual_seed(seed)
    return SPOS(SearchableMnistNet(width=8, depth=2)).train()


def test_search_throughput(benchmark, monkeypatch):
    algo = supernet_algo()
    supernet, mutator = algo.architecture, algo.mutator
    torch.manual_seed(1)
    calib_images = torch.randn(1024, 1, 28, 28)
    val_images, val_labels = torch.randn(500, 1, 28, 28), torch.randint(0, 10, (500,))
    estimator = ResourceEstimator(input_shape=(1, 1, 28, 28))
    mutator.set_max_choices()
    budget = 0.5 * estimator.estimate(supernet)['flops']
    calibrate = bn_calibrator([calib_images[i:i + 256] for i in range(0, 1024, 256)])
    modules_before = [id(m) for m in supernet.modules()]

    def no_copies(*_args, **_kwargs):
        raise AssertionError('the search deep-copied something')

    def search():
        return evolution_search(
            algo, lambda _m: accuracy(supernet, val_images, val_labels),
            constraints=dict(flops=(0, budget)), estimator=estimator, calibrate_fn=calibrate,
            num_candidates=POPULATION, top_k=4, num_mutation=POPULATION // 2,
            num_crossover=POPULATION // 4, max_epochs=EPOCHS, seed=0)

    monkeypatch.setattr(copy, 'deepcopy', no_copies)
    result = benchmark.pedantic(search, rounds=3, iterations=1, warmup_rounds=0)
    monkeypatch.undo()
    assert [id(m) for m in supernet.modules()] == modules_before
    assert len(result.candidates) == POPULATION * EPOCHS
    assert all(c.resources['flops'] <= budget for c in result.candidates)
    stats = getattr(benchmark, 'stats', None)
    if stats is not None and getattr(stats, 'stats', None) is not None:
        per_second = len(result.candidates) / stats.stats.median
        print(f'\nsearch throughput: {per_second:.1f} candidates/s '
              f'({len(result.candidates)} candidates, median of 3 searches '
              f'{stats.stats.median:.2f} s; BN recalibration 4 x 256 images, 500 scored)')


def _time_parts(algo: SPOS, calibrate, val_images, val_labels, estimator) -> dict[str, float]:
    """Seconds of each part of one candidate's evaluation (median of 5), for RESULTS.md."""
    parts = dict(recalibrate=lambda: calibrate(algo.architecture),
                 score=lambda: accuracy(algo.architecture, val_images, val_labels),
                 flops=lambda: estimator.estimate(algo.architecture))
    out = {}
    for name, fn in parts.items():
        times = []
        for _ in range(5):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        out[name] = sorted(times)[2]
    return out


def test_search_candidate_parts(benchmark):
    """Where a candidate's time goes (printed; pytest-benchmark times one whole candidate)."""
    algo = supernet_algo()
    torch.manual_seed(1)
    calib = bn_calibrator([torch.randn(256, 1, 28, 28) for _ in range(4)])
    val_images, val_labels = torch.randn(500, 1, 28, 28), torch.randint(0, 10, (500,))
    estimator = ResourceEstimator(input_shape=(1, 1, 28, 28))
    random.seed(0)
    algo.mutator.set_choices(algo.mutator.sample_choices())

    def candidate():
        calib(algo.architecture)
        estimator.estimate(algo.architecture)
        return accuracy(algo.architecture, val_images, val_labels)

    benchmark.pedantic(candidate, rounds=5, iterations=1, warmup_rounds=1)
    if not benchmark.disabled:
        parts = _time_parts(algo, calib, val_images, val_labels, estimator)
        print('\none candidate: ' + ', '.join(f'{k} {v * 1e3:.1f} ms' for k, v in parts.items()))


@pytest.fixture(scope='module', params=[0, 1, 2], ids=lambda s: f'subnet{s}')
def step_roles(request):
    sample_seed = request.param
    algo = supernet_algo()
    random.seed(sample_seed)
    choices = algo.mutator.sample_choices()
    algo.mutator.set_choices(choices)
    _, static = export_fix_subnet(algo.architecture, slice_weight=True)
    plain = BaseAlgorithm(static).train()
    torch.manual_seed(2)
    x, y = torch.randn(BATCH, 1, 28, 28), torch.randint(0, 10, (BATCH,))
    opt_super = torch.optim.SGD(algo.parameters(), lr=0.01, momentum=0.9)
    opt_static = torch.optim.SGD(plain.parameters(), lr=0.01, momentum=0.9)

    def ours():
        random.seed(sample_seed)  # SPOS samples the same subnet every step
        return algo.train_step((x, y), opt_super)

    def floor():
        return plain.train_step((x, y), opt_static)

    return sample_seed, choices, algo, dict(ours=ours, floor=floor)


def test_supernet_step_vs_static_round_robin(paired, paired_ratio, step_roles):
    sample_seed, choices, algo, roles = step_roles
    group = f'SPOS step vs static subnet{sample_seed} batch {BATCH}'
    paired(group, roles)
    assert algo.mutator.current_choices == choices  # the timed steps trained that subnet
    ratio = paired_ratio(group, 'ours', 'floor')
    if ratio is not None:
        layers = ' '.join(str(c) for c in choices.values())
        print(f'\n{group} ({layers}): supernet / static = {ratio}; target <= {TARGET:.2f}x')
