"""Resource estimators: FLOPs, parameters and (measured) latency of a model or current subnet."""
from razor_ext.models.task_modules.estimators.resource_estimator import ResourceEstimator

__all__ = ['ResourceEstimator']
