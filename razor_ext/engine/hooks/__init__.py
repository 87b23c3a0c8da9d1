"""Hooks registered in ``HOOKS``: what ``default_hooks`` / ``custom_hooks`` name."""
from razor_ext.engine.hooks.checkpoint_hook import CheckpointHook
from razor_ext.engine.hooks.hook import Hook
from razor_ext.engine.hooks.logger_hook import LoggerHook

__all__ = ['CheckpointHook', 'Hook', 'LoggerHook']
from razor_ext.engine.hooks.epoch_info_hook import EpochInfoHook  # noqa: E402

__all__ += ['EpochInfoHook']
