"""MMEngine's default hooks that razor_ext's :class:`~razor_ext.engine.Runner` does the work of
itself, registered under their names so MMEngine / mmcls runtime configs build unchanged:
``IterTimerHook`` (the logger times iterations), ``ParamSchedulerHook`` (the runner steps the
schedulers), ``DistSamplerSeedHook`` (the runner sets each epoch's sampler seed),
``VisualizationHook`` (no visualiser), ``SyncBuffersHook`` (one process: nothing to sync)."""
from __future__ import annotations

from typing import Any

from razor_ext.engine.hooks.hook import Hook
from razor_ext.registry import HOOKS, register_not_implemented


class _RunnerDoesIt(Hook):
    """A hook whose work the runner does already; it accepts MMEngine's arguments and does nothing.

    Example:
        >>> HOOKS.build(dict(type='ParamSchedulerHook')).before_run(None)
    """

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


for _name in ('IterTimerHook', 'ParamSchedulerHook', 'DistSamplerSeedHook', 'VisualizationHook',
              'SyncBuffersHook', 'RuntimeInfoHook'):
    HOOKS.register_module(name=[_name, f'mmengine.{_name}'],
                          module=type(_name, (_RunnerDoesIt,), {'__doc__': _RunnerDoesIt.__doc__}))

register_not_implemented(HOOKS, ['ResourceInfoHook'],
                         "MMRazor's hook that logs the resources of the best searched subnet is "
                         "not ported; EstimateResourcesHook estimates a model's resources")
register_not_implemented(HOOKS, ['EMAHook'], "MMEngine's exponential moving average of weights "
                                             "is not ported")
