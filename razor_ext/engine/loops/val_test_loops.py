"""Validation and test loops: run the model in predict mode and score it with the evaluator."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader

from razor_ext.engine.loops.base import BaseLoop
from razor_ext.registry import LOOPS

if TYPE_CHECKING:
    from razor_ext.engine.runner import Runner


def evaluate(model: Any, dataloader: DataLoader, evaluator: Any) -> dict[str, float]:
    """Score ``model`` (a BaseAlgorithm) on ``dataloader`` with ``evaluator``; eval mode, no grad.

    Returns:
        the evaluator's metrics, e.g. ``{'accuracy/top1': 97.2, 'loss': 0.11}``.
    """
    was_training = model.training
    model.eval()
    evaluator.reset()
    with torch.no_grad():
        for data in dataloader:
            evaluator.process(model, data)
    model.train(was_training)
    return evaluator.compute()


@LOOPS.register_module()
class ValLoop(BaseLoop):
    """Evaluate on the validation loader; the metrics go to the hooks (logger, best checkpoint)."""

    def __init__(self, runner: Runner, dataloader: DataLoader | Mapping[str, Any],
                 evaluator: Any = None) -> None:
        super().__init__(runner, dataloader)
        self.evaluator = runner.build_evaluator(evaluator)

    def run(self) -> dict[str, float]:
        self.runner.call_hook('before_val')
        metrics = evaluate(self.runner.model, self.dataloader, self.evaluator)
        self.runner.call_hook('after_val', metrics=metrics)
        return metrics


@LOOPS.register_module()
class TestLoop(ValLoop):
    """Evaluate on the test loader."""

    def run(self) -> dict[str, float]:
        self.runner.call_hook('before_test')
        metrics = evaluate(self.runner.model, self.dataloader, self.evaluator)
        self.runner.call_hook('after_test', metrics=metrics)
        return metrics
