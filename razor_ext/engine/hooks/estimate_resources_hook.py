"""``EstimateResourcesHook``: FLOPs and parameters of the model's current (sub)net at each
validation, logged with the metrics."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from razor_ext.engine.hooks.dump_subnet_hook import searchable_part
from razor_ext.engine.hooks.hook import Hook
from razor_ext.estimators import ResourceEstimator
from razor_ext.registry import HOOKS, TASK_UTILS


@HOOKS.register_module()
class EstimateResourcesHook(Hook):
    """After each validation, estimate the model's current subnet with a ``ResourceEstimator``
    and add ``resources/flops`` and ``resources/params`` (and ``resources/latency`` when the
    estimator measures it) to the validation metrics, so the logger records them.

    Args:
        estimator_cfg: a ``TASK_UTILS`` config for the estimator (default:
            ``ResourceEstimator(input_shape=(1, 1, 28, 28))``, MFLOPs and M params).
        interval: estimate at every this many validations.

    Example (config):
        >>> custom_hooks = [dict(type='EstimateResourcesHook',
        ...                      estimator_cfg=dict(type='ResourceEstimator', input_shape=(1, 3, 32, 32)))]
    """

    priority = 5  # before the logger (10) writes the validation record

    def __init__(self, estimator_cfg: Mapping[str, Any] | None = None, interval: int = 1) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        cfg = dict(estimator_cfg or dict(type='ResourceEstimator', input_shape=(1, 1, 28, 28)))
        self.estimator = TASK_UTILS.build(cfg)
        if not isinstance(self.estimator, ResourceEstimator):
            raise TypeError(f'estimator_cfg built a {type(self.estimator).__name__}, not a '
                            f'ResourceEstimator')
        self.interval, self._count = interval, 0
        self.last: dict[str, Any] = {}

    def after_val(self, runner: Any, metrics: dict[str, float] | None = None, **kwargs: Any) -> None:
        self._count += 1
        if self._count % self.interval:
            return
        self.last = self.estimator.estimate(searchable_part(runner.model))
        if metrics is not None:
            metrics.update({f'resources/{k}': v for k, v in self.last.items()})
