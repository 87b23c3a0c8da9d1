"""Training loops: by epoch and by iteration, resumable at any iteration."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from torch.utils.data import DataLoader

from razor_ext.engine.loops.base import BaseLoop
from razor_ext.registry import LOOPS

if TYPE_CHECKING:
    from razor_ext.engine.runner import Runner


@LOOPS.register_module()
class EpochBasedTrainLoop(BaseLoop):
    """Train for ``max_epochs`` epochs, validating every ``val_interval`` epochs.

    The position (``epoch``, ``iter``, ``inner_iter``) is saved in checkpoints; on resume the loop
    re-creates the epoch's shuffled order (the sampler is seeded by the epoch) and skips the
    batches already trained, so a resumed run trains on exactly the batches a straight run would.

    Args:
        runner: the runner.
        dataloader: the training loader (or its config).
        max_epochs: epochs to train.
        val_begin: first epoch (1-based) after which validation runs.
        val_interval: validate every this many epochs (0: never).
    """

    needs_optimizer = True
    shard_data = True

    def __init__(self, runner: Runner, dataloader: DataLoader | Mapping[str, Any],
                 max_epochs: int, val_begin: int = 1, val_interval: int = 1) -> None:
        super().__init__(runner, dataloader)
        if not isinstance(max_epochs, int) or max_epochs < 1:
            raise ValueError(f'max_epochs must be a positive int, got {max_epochs!r}')
        self.max_epochs = max_epochs
        self.val_begin, self.val_interval = val_begin, val_interval
        self.epoch = 0  # epochs finished
        self.iter = 0  # iterations finished, in all
        self.inner_iter = 0  # iterations finished in the current epoch

    @property
    def max_iters(self) -> int:
        return self.max_epochs * len(self.dataloader)

    def state_dict(self) -> dict[str, int]:
        return {'epoch': self.epoch, 'iter': self.iter, 'inner_iter': self.inner_iter}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        self.epoch, self.iter, self.inner_iter = state['epoch'], state['iter'], state['inner_iter']

    def run(self) -> Any:
        runner = self.runner
        runner.call_hook('before_train')
        while self.epoch < self.max_epochs:
            self.run_epoch()
            if (runner.val_loop is not None and self.val_interval > 0
                    and self.epoch >= self.val_begin and self.epoch % self.val_interval == 0):
                runner.val_loop.run()
        runner.call_hook('after_train')
        return runner.model

    def run_epoch(self) -> None:
        runner = self.runner
        runner.model.train()
        runner.set_epoch(self.dataloader, self.epoch)
        runner.call_hook('before_train_epoch')
        skip = self.inner_iter
        for idx, data in enumerate(self.dataloader):
            if idx < skip:
                continue
            self.run_iter(idx, data)
        self.epoch += 1
        self.inner_iter = 0
        runner.step_schedulers(by_epoch=True)
        runner.call_hook('after_train_epoch')

    def run_iter(self, idx: int, data: Any) -> None:
        runner = self.runner
        runner.call_hook('before_train_iter', batch_idx=idx, data_batch=data)
        outputs = runner.model.train_step(data, runner.optim_wrapper)
        self.iter += 1
        self.inner_iter = idx + 1
        runner.step_schedulers(by_epoch=False)
        runner.call_hook('after_train_iter', batch_idx=idx, data_batch=data, outputs=outputs)


@LOOPS.register_module()
class IterBasedTrainLoop(EpochBasedTrainLoop):
    """Train for ``max_iters`` iterations (cycling the loader), validating every ``val_interval``.

    Args:
        runner: the runner.
        dataloader: the training loader (or its config).
        max_iters: iterations to train.
        val_begin: first iteration after which validation runs.
        val_interval: validate every this many iterations (0: never).
    """

    def __init__(self, runner: Runner, dataloader: DataLoader | Mapping[str, Any], max_iters: int,
                 val_begin: int = 1, val_interval: int = 1000) -> None:
        if not isinstance(max_iters, int) or max_iters < 1:
            raise ValueError(f'max_iters must be a positive int, got {max_iters!r}')
        super().__init__(runner, dataloader, max_epochs=1, val_begin=val_begin,
                         val_interval=val_interval)
        self._max_iters = max_iters

    @property
    def max_iters(self) -> int:
        return self._max_iters

    def run(self) -> Any:
        runner = self.runner
        runner.call_hook('before_train')
        while self.iter < self._max_iters:
            runner.model.train()
            runner.set_epoch(self.dataloader, self.epoch)
            runner.call_hook('before_train_epoch')
            skip = self.inner_iter
            for idx, data in enumerate(self.dataloader):
                if idx < skip:
                    continue
                self.run_iter(idx, data)
                if (runner.val_loop is not None and self.val_interval > 0
                        and self.iter >= self.val_begin and self.iter % self.val_interval == 0):
                    runner.val_loop.run()
                    runner.model.train()
                if self.iter >= self._max_iters:
                    break
            if self.inner_iter >= len(self.dataloader):
                self.epoch += 1
                self.inner_iter = 0
            runner.call_hook('after_train_epoch')
        runner.call_hook('after_train')
        return runner.model
