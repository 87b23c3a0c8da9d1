"""AutoSlim's greedy channel search (MMRazor's ``AutoSlimGreedySearchLoop``)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from torch.utils.data import DataLoader

from razor_ext.engine.loops.base import BaseLoop
from razor_ext.engine.loops.val_test_loops import evaluate
from razor_ext.fileio import atomic_write_text
from razor_ext.registry import LOOPS, TASK_UTILS

if TYPE_CHECKING:
    from razor_ext.engine.runner import Runner

__all__ = ['AutoSlimGreedySearchLoop']


@LOOPS.register_module()
class AutoSlimGreedySearchLoop(BaseLoop):
    """Greedy slimming of a trained slimmable supernet (AutoSlim, Yu & Huang 2019).

    Starting from the widest subnet, each step narrows every channel unit by one candidate in
    turn, scores each narrowed subnet on the dataloader, and keeps the one with the best
    ``score_key``; it stops at each of ``target_flops`` (largest first) once the subnet's
    FLOPs are at most the target, and writes that subnet's choices to
    ``work_dir/FLOPS_<flops>M.yaml``. FLOPs are MMRazor's multiply-adds (``ResourceEstimator``
    with ``counter='mmrazor'``, in M, on the physically slimmed copy) unless ``estimator_cfg``
    says otherwise.

    The model's mutator needs ``search_groups`` (``{unit: candidate choices}``),
    ``set_choices``, ``current_choices`` and ``to_static`` (``OneShotChannelMutator``).
    ``run()`` returns ``[(flops, choices), ...]``, one per target; the mutator's choices are
    restored afterwards.
    """

    def __init__(self, runner: Runner, dataloader: DataLoader | Mapping[str, Any],
                 evaluator: Any = None, target_flops: Sequence[float] = (),
                 estimator_cfg: Mapping[str, Any] | None = None,
                 score_key: str = 'accuracy/top1', resume_from: str | None = None) -> None:
        super().__init__(runner, dataloader)
        if not target_flops or any(not isinstance(t, (int, float)) or t <= 0 for t in target_flops):
            raise ValueError(f'target_flops must be positive numbers, got {target_flops!r}')
        if resume_from is not None:
            raise ValueError('AutoSlimGreedySearchLoop: resume_from is not supported')
        self.evaluator = runner.build_evaluator(evaluator)
        self.target_flops = sorted((float(t) for t in target_flops), reverse=True)
        self.score_key = score_key
        cfg = {'type': 'ResourceEstimator', 'counter': 'mmrazor', 'input_shape': (1, 3, 224, 224),
               **dict(estimator_cfg or {})}
        cfg['type'] = str(cfg['type']).split('.')[-1]
        self.estimator = TASK_UTILS.build(cfg)

    def _flops(self, mutator: Any, choices: Mapping[str, Any]) -> float:
        mutator.set_choices(choices)
        return float(self.estimator.estimate(mutator.to_static().eval())['flops'])

    def _score(self, model: Any) -> float:
        metrics = evaluate(model, self.dataloader, self.evaluator)
        if self.score_key not in metrics:
            raise KeyError(f'score_key {self.score_key!r} is not among the metrics {sorted(metrics)}')
        return float(metrics[self.score_key])

    def run(self) -> list[tuple[float, dict[str, Any]]]:
        model = self.runner.model
        mutator = getattr(model, 'mutator', None)
        if mutator is None or not hasattr(mutator, 'search_groups'):
            raise ValueError('AutoSlimGreedySearchLoop needs a model whose mutator has channel '
                             'units (AutoSlim with OneShotChannelMutator)')
        candidates = {name: sorted(c) for name, c in mutator.search_groups.items()}
        before = dict(mutator.current_choices)
        bins = {name: len(c) for name, c in candidates.items()}  # 1-based index of the choice

        def choices_of(b: Mapping[str, int]) -> dict[str, Any]:
            return {name: candidates[name][i - 1] for name, i in b.items()}

        results: list[tuple[float, dict[str, Any]]] = []
        try:
            flops = self._flops(mutator, choices_of(bins))
            for target in self.target_flops:
                while flops > target:
                    best: tuple[float, dict[str, int]] | None = None
                    for name in sorted(bins):
                        if bins[name] == 1:
                            continue
                        trial = {**bins, name: bins[name] - 1}
                        mutator.set_choices(choices_of(trial))
                        score = self._score(model)
                        if best is None or score > best[0]:
                            best = (score, trial)
                    if best is None:
                        raise RuntimeError(f'every unit is at its narrowest and the FLOPs '
                                           f'({flops:.2f}) are still above {target}')
                    bins = best[1]
                    flops = self._flops(mutator, choices_of(bins))
                choices = choices_of(bins)
                results.append((flops, choices))
                path = Path(self.runner.work_dir) / f'FLOPS_{flops:.2f}M.yaml'
                atomic_write_text(path, yaml.safe_dump(
                    {name: {'chosen': float(c) if isinstance(c, float) else c}
                     for name, c in choices.items()}, sort_keys=False))
        finally:
            mutator.set_choices(before)
        return results
