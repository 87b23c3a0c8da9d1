"""AutoSlim: slimmable channel widths trained with the sandwich rule and in-place KD."""
from __future__ import annotations

from razor_ext.nas.algorithms.sandwich import SandwichAlgorithm
from razor_ext.registry import MODELS

__all__ = ['AutoSlim']


@MODELS.register_module()
class AutoSlim(SandwichAlgorithm):
    """AutoSlim (Yu & Huang 2019), MMRazor's ``AutoSlim``.

    The supernet's widths are ``OneShotMutableChannel``s (or a channel mutator's units); each
    step trains the widest, the narrowest and ``num_random_samples`` random widths, the latter
    two distilled in place from the widest. Arguments: see :class:`SandwichAlgorithm`.

    Example:
        >>> algo = MODELS.build(dict(type='AutoSlim', architecture=slimmable_cfg,
        ...     distiller=dict(type='KLDivergence', tau=1.0)))  # doctest: +SKIP
    """
