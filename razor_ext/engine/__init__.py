"""The training engine: ``Runner`` (built from an MMEngine-style config), loops, hooks,
checkpoints, optimizers and evaluators.

Example:
    >>> from razor_ext.engine import Runner
    >>> cfg = dict(
    ...     model=dict(type='BaseAlgorithm', architecture=dict(type='MnistCNN', width=4)),
    ...     work_dir=__import__('tempfile').mkdtemp(),
    ...     train_dataloader=dict(batch_size=64, dataset=dict(type='EmbeddedDigits', split='val')),
    ...     optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
    ...     train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=1),
    ...     default_hooks=dict(logger=dict(type='LoggerHook', interval=100, console=False)))
    >>> runner = Runner.from_cfg(cfg)
    >>> _ = runner.train()
"""
from razor_ext.engine.hooks import CheckpointHook, Hook, LoggerHook
from razor_ext.engine.loops import (BaseLoop, EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop,
                                    ValLoop)
from razor_ext.engine.runner import Runner

__all__ = ['BaseLoop', 'CheckpointHook', 'EpochBasedTrainLoop', 'Hook', 'IterBasedTrainLoop',
           'LoggerHook', 'Runner', 'TestLoop', 'ValLoop']
