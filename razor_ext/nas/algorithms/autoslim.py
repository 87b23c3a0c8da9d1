"""AutoSlim: slimmable channel widths trained with the sandwich rule and in-place KD."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from razor_ext.nas.algorithms.sandwich import SandwichAlgorithm
from razor_ext.registry import MODELS

__all__ = ['AutoSlim']


@MODELS.register_module()
class AutoSlim(SandwichAlgorithm):
    """AutoSlim (Yu & Huang 2019), MMRazor's ``AutoSlim``.

    The supernet's widths are ``OneShotMutableChannel``s or the units of a channel mutator
    (MMRazor's ``OneShotChannelMutator`` over a plain model); each step trains the widest, the
    narrowest and ``num_random_samples`` random widths, the latter two distilled in place from
    the widest.

    Args:
        bn_training_mode: MMRazor's search config name for ``norm_training`` (BatchNorm stays
            in training mode in eval, so each width is evaluated on its own batch statistics);
            giving both is an error.
        other arguments: see :class:`SandwichAlgorithm`.

    Example:
        >>> algo = MODELS.build(dict(type='AutoSlim', architecture=slimmable_cfg,
        ...     distiller=dict(type='KLDivergence', tau=1.0)))  # doctest: +SKIP
    """

    def __init__(self, architecture: Any, mutator: Any = None, distiller: Any = None,
                 norm_training: bool | None = None, num_random_samples: int = 2,
                 data_preprocessor: Any = None, init_cfg: Mapping[str, Any] | None = None,
                 loss_fn: Any = None, bn_training_mode: bool | None = None) -> None:
        if norm_training is not None and bn_training_mode is not None \
                and bool(norm_training) != bool(bn_training_mode):
            raise ValueError('AutoSlim: norm_training and bn_training_mode disagree')
        training = bool(norm_training if norm_training is not None else bn_training_mode)
        super().__init__(architecture, mutator, distiller, training, num_random_samples,
                         data_preprocessor, init_cfg, loss_fn)
