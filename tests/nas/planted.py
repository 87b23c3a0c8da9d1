"""A planted search problem: a fake mutator over 6 choices of 0..3, and a script entry point
(``python planted.py CKPT OUT [KILL_EPOCH]``) used by the kill/resume test."""
from __future__ import annotations

import itertools
import json
import os
import random
import sys

KEYS = [f'layer{i}' for i in range(6)]
WEIGHTS = [3, 1, 4, 1, 5, 2]  # "flops" per unit of each choice
TARGET = [2, 0, 3, 1, 3, 2]  # the planted optimum (38 flops)
BUDGET = 40  # excludes most of the space (max is 48 flops) but not the optimum


class FakeMutator:
    """sample_choices / set_choices / current_choices, as NasMutator offers them."""

    def __init__(self) -> None:
        self.current_choices = {k: 0 for k in KEYS}
        self.set_calls = 0

    def sample_choices(self) -> dict[str, int]:
        return {k: random.randrange(4) for k in KEYS}

    def set_choices(self, choices: dict[str, int]) -> None:
        self.set_calls += 1
        self.current_choices = dict(choices)


def flops(m: FakeMutator) -> dict[str, float]:
    return {'flops': sum(w * m.current_choices[k] for k, w in zip(KEYS, WEIGHTS))}


def score(m: FakeMutator) -> float:
    # Separable with one peak, so mutation can climb to it; 0 at the optimum.
    return -float(sum((m.current_choices[k] - t) ** 2 for k, t in zip(KEYS, TARGET)))


def brute_force_optimum() -> tuple[dict[str, int], float]:
    best, best_score = None, float('-inf')
    for combo in itertools.product(range(4), repeat=len(KEYS)):
        m = FakeMutator()
        m.set_choices(dict(zip(KEYS, combo)))
        if flops(m)['flops'] <= BUDGET and score(m) > best_score:
            best, best_score = dict(m.current_choices), score(m)
    return best, best_score


SEARCH_ARGS = dict(constraints=dict(flops=(0, BUDGET)), estimator=flops, num_candidates=20,
                   top_k=10, num_mutation=8, num_crossover=8, mutate_prob=0.3, max_epochs=8,
                   seed=7)


def run_search(ckpt: str, kill_epoch: int = -1) -> dict:
    """Run the planted search; die (exit 17) in epoch ``kill_epoch + 1`` after 3 evaluations."""
    from razor_ext.nas import evolution_search
    state = {'epoch': 0, 'evals': 0}

    def evaluate(m: FakeMutator) -> float:
        state['evals'] += 1
        if state['epoch'] == kill_epoch and state['evals'] >= 3:
            os._exit(17)
        return score(m)

    def epoch_end(epoch: int, top_k: list) -> None:
        state['epoch'], state['evals'] = epoch, 0

    res = evolution_search(FakeMutator(), evaluate, checkpoint=ckpt or None,
                           on_epoch_end=epoch_end, **SEARCH_ARGS)
    return json.loads(json.dumps(dict(
        best=res.best_choices, score=res.best_score, epochs=res.epochs,
        candidates=[[c.choices, c.score, c.resources] for c in res.candidates])))


if __name__ == '__main__':
    result = run_search(sys.argv[1], int(sys.argv[3]) if len(sys.argv) > 3 else -1)
    with open(sys.argv[2], 'w') as f:
        json.dump(result, f)
