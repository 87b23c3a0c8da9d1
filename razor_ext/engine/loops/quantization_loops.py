"""Quantization loops (MMRazor's names): ``PTQLoop`` calibrates then evaluates; ``QATEpochBasedLoop``
trains with observer-freeze and BN-freeze epochs."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from torch.utils.data import DataLoader

from razor_ext.engine.loops.train_loops import EpochBasedTrainLoop
from razor_ext.engine.loops.val_test_loops import TestLoop, evaluate
from razor_ext.registry import LOOPS

if TYPE_CHECKING:
    from razor_ext.engine.runner import Runner

__all__ = ['PTQLoop', 'QATEpochBasedLoop']


@LOOPS.register_module()
class PTQLoop(TestLoop):
    """Calibrate the model on ``calibrate_dataloader`` (``calibrate_steps`` batches), then evaluate.

    Use as ``test_cfg`` (or ``val_cfg``) with an :class:`MMArchitectureQuant` model in PTQ mode (a
    plain prepared model works too).

    Args:
        runner: the runner.
        dataloader: the evaluation loader (or config).
        evaluator: the metric (default: accuracy).
        calibrate_dataloader: the calibration loader (or config); default: ``dataloader``.
        calibrate_steps: calibration batches.
    """

    def __init__(self, runner: Runner, dataloader: DataLoader | Mapping[str, Any],
                 evaluator: Any = None, calibrate_dataloader: DataLoader | Mapping[str, Any] | None = None,
                 calibrate_steps: int = 32) -> None:
        super().__init__(runner, dataloader, evaluator)
        if isinstance(calibrate_dataloader, Mapping):
            calibrate_dataloader = runner.build_dataloader(calibrate_dataloader)
        self.calibrate_dataloader = calibrate_dataloader or self.dataloader
        if not isinstance(calibrate_steps, int) or calibrate_steps < 1:
            raise ValueError(f'calibrate_steps must be a positive int, got {calibrate_steps!r}')
        self.calibrate_steps = calibrate_steps

    def run(self) -> dict[str, float]:
        from razor_ext.quantization import calibrate

        model = self.runner.model
        self.runner.call_hook('before_test')
        if hasattr(model, 'calibrate'):
            model.calibrate(self.calibrate_dataloader, self.calibrate_steps)
        else:
            calibrate(model, self.calibrate_dataloader, self.calibrate_steps)
        metrics = evaluate(model, self.dataloader, self.evaluator)
        self.runner.call_hook('after_test', metrics=metrics)
        return metrics


@LOOPS.register_module()
class QATEpochBasedLoop(EpochBasedTrainLoop):
    """:class:`EpochBasedTrainLoop` that freezes observers and BatchNorm statistics on schedule.

    Args:
        disable_observer_begin: first epoch (1-based) with frozen qparams; -1: never.
        freeze_bn_begin: first epoch (1-based) with frozen BN statistics; -1: never.
        (others as :class:`EpochBasedTrainLoop`)

    A model with ``on_train_epoch_start(epoch)`` (:class:`MMArchitectureQuant`) also gets its own
    schedule applied at each epoch start.
    """

    def __init__(self, runner: Runner, dataloader: DataLoader | Mapping[str, Any], max_epochs: int,
                 val_begin: int = 1, val_interval: int = 1, disable_observer_begin: int = -1,
                 freeze_bn_begin: int = -1) -> None:
        super().__init__(runner, dataloader, max_epochs, val_begin, val_interval)
        self.disable_observer_begin, self.freeze_bn_begin = disable_observer_begin, freeze_bn_begin

    def run_epoch(self) -> None:
        from razor_ext.quantization import freeze_bn_stats, freeze_observers

        model = self.runner.model
        model.train()
        if hasattr(model, 'on_train_epoch_start'):
            model.on_train_epoch_start(self.epoch)
        if self.disable_observer_begin > 0 and self.epoch + 1 >= self.disable_observer_begin:
            freeze_observers(model)
        if self.freeze_bn_begin > 0 and self.epoch + 1 >= self.freeze_bn_begin:
            freeze_bn_stats(model)
            if hasattr(model, '_bn_frozen'):
                model._bn_frozen = True  # keeps BN in eval mode through model.train()
        super().run_epoch()
