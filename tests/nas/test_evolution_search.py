"""Evolution / random search on a planted problem: optimum, constraints, resume, termination."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from razor_ext.nas import evolution_search, random_search
from razor_ext.nas.search import SearchConstraintError, bn_calibrator, recalibrate_bn
from tests.nas.planted import (BUDGET, SEARCH_ARGS, FakeMutator, brute_force_optimum,
                                          flops, run_search, score)

ROOT = Path(__file__).resolve().parents[2]


def test_finds_planted_optimum_and_honours_constraints():
    best, best_score = brute_force_optimum()
    m = FakeMutator()
    res = evolution_search(m, score, **SEARCH_ARGS)
    assert res.best_score == pytest.approx(best_score)
    assert res.best_choices == best
    assert res.best_resources['flops'] <= BUDGET
    # every candidate evaluated honours the constraint and is unique
    assert all(c.resources['flops'] <= BUDGET for c in res.candidates)
    keys = [tuple(sorted(c.choices.items())) for c in res.candidates]
    assert len(keys) == len(set(keys))
    assert m.current_choices == best  # left set to the best subnet
    assert res.top_k[0].score == res.best_score
    assert [c.score for c in res.top_k] == sorted((c.score for c in res.top_k), reverse=True)
    # far fewer evaluations than the 4096 subnets
    assert len(res.candidates) <= SEARCH_ARGS['num_candidates'] * SEARCH_ARGS['max_epochs']


def test_random_search_is_worse_or_equal_and_constrained():
    res = random_search(FakeMutator(), score, num_candidates=20,
                        constraints=dict(flops=BUDGET), estimator=flops, seed=1)
    assert len(res.candidates) == 20 and res.epochs == 1
    assert all(c.resources['flops'] <= BUDGET for c in res.candidates)
    assert res.best_score == max(c.score for c in res.candidates)
    assert res.best_score <= brute_force_optimum()[1]


def test_same_seed_same_result_and_global_rng_untouched():
    import random
    random.seed(123)
    before = random.random()
    random.seed(123)
    a = evolution_search(FakeMutator(), score, **SEARCH_ARGS)
    assert random.random() == before  # the search restores the global RNG
    b = evolution_search(FakeMutator(), score, **SEARCH_ARGS)
    assert [c.choices for c in a.candidates] == [c.choices for c in b.candidates]


def test_impossible_constraint_raises_after_cap():
    m = FakeMutator()
    with pytest.raises(SearchConstraintError, match=r'constraints=.*flops.*max_sample_attempts'):
        evolution_search(m, score, constraints=dict(flops=(1000, None)), estimator=flops,
                         max_sample_attempts=50, num_candidates=4, top_k=2, num_mutation=1,
                         num_crossover=1)
    assert m.set_calls <= 51  # stopped at the cap (estimator sets choices per attempt)


def test_exhausted_space_ends_early_with_the_best():
    # 4 ** 6 subnets but only those with all zeros except layer0 fit: 4 subnets for 5 slots.
    res = evolution_search(FakeMutator(), score, constraints=dict(flops=(0, 0)),
                           estimator=lambda m: {'flops': sum(list(m.current_choices.values())[1:])},
                           num_candidates=5, top_k=2, num_mutation=0, num_crossover=0,
                           max_sample_attempts=20000, max_epochs=4)
    assert len(res.candidates) == 4 and res.epochs == 1
    assert res.best_score == max(c.score for c in res.candidates)


class _Small:
    """27 subnets: three choices of three."""

    def __init__(self) -> None:
        self.current_choices = {'a': 0, 'b': 0, 'c': 0}

    def sample_choices(self):
        import random
        return {k: random.randrange(3) for k in 'abc'}

    def set_choices(self, c):
        self.current_choices = dict(c)


def test_space_smaller_than_budget_scores_every_subnet_once_and_ends():
    m = _Small()
    evaluate = lambda mm: float(sum(v * (i + 1) for i, v in enumerate(mm.current_choices.values())))
    res = evolution_search(m, evaluate, num_candidates=8, top_k=2, num_mutation=2,
                           num_crossover=2, max_epochs=4, max_sample_attempts=500)
    assert len(res.candidates) == 27
    assert res.best_choices == {'a': 2, 'b': 2, 'c': 2} and res.best_score == 12.0
    assert res.epochs == 4  # 8 + 8 + 8 + 3: the last epoch takes what is left


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_candidates=0), 'num_candidates'),
    (dict(num_mutation=30, num_crossover=30), 'must not exceed'),
    (dict(mutate_prob=1.5), 'mutate_prob'),
    (dict(constraints=dict(flops=(0, 1))), 'estimator'),
    (dict(constraints=dict(flops='big'), estimator=flops), r"constraints\['flops'\]"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        evolution_search(FakeMutator(), score, **kwargs)


def test_no_mutator_is_a_type_error():
    with pytest.raises(TypeError, match='mutator'):
        evolution_search(nn.Linear(2, 2), lambda m: 0.0)


def test_checkpoint_from_other_settings_is_rejected(tmp_path):
    ckpt = tmp_path / 'search.pkl'
    evolution_search(FakeMutator(), score, checkpoint=ckpt, **SEARCH_ARGS)
    args = dict(SEARCH_ARGS, seed=8)
    with pytest.raises(ValueError, match='other settings'):
        evolution_search(FakeMutator(), score, checkpoint=ckpt, **args)


def _run(*args: str) -> int:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / 'tests/nas/planted.py'),
                           *args], env=env, cwd=ROOT, timeout=120).returncode


def test_killed_and_resumed_equals_straight_through(tmp_path):
    resumed, ckpt = tmp_path / 'resumed.json', tmp_path / 'search.ckpt'
    straight = run_search('')
    assert _run(str(ckpt), str(resumed), '3') == 17  # killed mid-epoch 4
    assert ckpt.exists() and not resumed.exists()
    assert not list(tmp_path.glob('.*.tmp'))  # atomic writes leave no temp files
    assert _run(str(ckpt), str(resumed)) == 0
    assert json.loads(resumed.read_text()) == straight
    assert straight['epochs'] == SEARCH_ARGS['max_epochs']


def test_bn_recalibration_sets_subnet_statistics():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    batches = [torch.randn(16, 3) * 2 + 1 for _ in range(3)]
    net.eval()
    assert recalibrate_bn(net, batches) == 3
    assert not net.training  # mode restored
    assert net[1].momentum == 0.1
    with torch.no_grad():
        feats = torch.cat([net[0](b) for b in batches])
    torch.testing.assert_close(net[1].running_mean, feats.mean(0), rtol=1e-4, atol=1e-5)
    cal = bn_calibrator(iter(batches), num_batches=2)
    cal(net)
    with torch.no_grad():
        feats = torch.cat([net[0](b) for b in batches[:2]])
    torch.testing.assert_close(net[1].running_mean, feats.mean(0), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match='empty'):
        bn_calibrator([])


def test_init_candidates_start_the_first_population(tmp_path):
    # the planted optimum given as a starting point: one epoch of random search finds it, and
    # a starting point outside the constraints is dropped, not scored
    best, best_score = brute_force_optimum()
    over = {k: 3 for k in best}  # every choice at its largest: 48 flops
    args = dict(constraints=dict(flops=(0, BUDGET)), estimator=flops, num_candidates=4, top_k=2, num_mutation=0, num_crossover=0, max_epochs=1)
    res = evolution_search(FakeMutator(), score, init_candidates=[over, best], **args)
    assert res.best_choices == best and res.best_score == pytest.approx(best_score)
    assert res.candidates[0].choices == best and over not in [c.choices for c in res.candidates]
    assert evolution_search(FakeMutator(), score, **args).best_score < best_score  # not by luck
    # a checkpoint written with other starting points is another search
    ckpt = tmp_path / 'search.pkl'
    evolution_search(FakeMutator(), score, init_candidates=[best], checkpoint=ckpt, **args)
    with pytest.raises(ValueError, match='other settings'):
        evolution_search(FakeMutator(), score, init_candidates=[over], checkpoint=ckpt, **args)
