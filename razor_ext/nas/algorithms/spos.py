"""SPOS: single-path one-shot NAS; each training step trains one uniformly sampled subnet."""
from __future__ import annotations

from typing import Any

from razor_ext.algorithm.base_algorithm import LossDict
from razor_ext.nas.algorithms.base_nas import NASAlgorithm
from razor_ext.registry import MODELS

__all__ = ['SPOS']


@MODELS.register_module()
class SPOS(NASAlgorithm):
    """Single Path One-Shot (Guo et al. 2020), MMRazor's ``SPOS``.

    ``loss`` sets a uniformly random subnet (``mutator.sample_choices()``) before the forward,
    so one ``train_step`` with any optimizer trains one path. Search afterwards with
    :func:`razor_ext.engine.evolution_search`.

    Args:
        architecture, mutator, norm_training, data_preprocessor, init_cfg, loss_fn: see
            :class:`NASAlgorithm`.

    Example:
        >>> algo = MODELS.build(dict(type='SPOS', architecture=supernet_cfg))  # doctest: +SKIP
        >>> algo.train_step((images, labels), torch.optim.SGD(algo.parameters(), 0.1))  # doctest: +SKIP
    """

    def loss(self, inputs: Any, data_samples: Any = None) -> LossDict:
        self.mutator.set_choices(self.mutator.sample_choices())
        return super().loss(inputs, data_samples)
