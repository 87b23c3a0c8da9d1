"""Hooks registered in ``HOOKS``: what ``default_hooks`` / ``custom_hooks`` name."""
from razor_ext.engine.hooks.checkpoint_hook import CheckpointHook
from razor_ext.engine.hooks.dump_subnet_hook import DumpSubnetHook
from razor_ext.engine.hooks.epoch_info_hook import EpochInfoHook
from razor_ext.engine.hooks.estimate_resources_hook import EstimateResourcesHook
from razor_ext.engine.hooks.hook import Hook
from razor_ext.engine.hooks.logger_hook import LoggerHook
from razor_ext.engine.hooks import mmengine_hooks
from razor_ext.engine.hooks.progress_bar_hook import ProgressBarHook

__all__ = ['CheckpointHook', 'DumpSubnetHook', 'EpochInfoHook', 'EstimateResourcesHook', 'Hook',
           'LoggerHook', 'ProgressBarHook', 'mmengine_hooks']
