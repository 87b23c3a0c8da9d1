"""Autoformer: one-shot training of a transformer supernet with entangled weights."""
from __future__ import annotations

from razor_ext.nas.algorithms.spos import SPOS
from razor_ext.registry import MODELS

__all__ = ['Autoformer']


@MODELS.register_module()
class Autoformer(SPOS):
    """AutoFormer (Chen et al. 2021), MMRazor's ``Autoformer``.

    Each training step samples one subnet uniformly (embedding width, depth, and per layer the
    heads and MLP ratio of an ``AutoformerBackbone``) and trains it; the subnets share the
    leading slices of the supernet's weights ("weight entanglement"). The search is
    ``EvolutionSearchLoop``'s, as for SPOS.

    Args: see :class:`~razor_ext.nas.algorithms.base_nas.NASAlgorithm`.

    Example:
        >>> algo = MODELS.build(dict(type='mmrazor.Autoformer', architecture=dict(
        ...     type='SearchableImageClassifier', backbone=dict(type='AutoformerBackbone',
        ...     arch_setting=space), head=dict(type='DynamicLinearClsHead', num_classes=10,
        ...     in_channels=624), connect_head=dict(connect_with_backbone='backbone.last_mutable')
        ...     )))  # doctest: +SKIP
    """
