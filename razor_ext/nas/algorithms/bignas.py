"""BigNAS: elastic width / depth / kernel / expand ratio, sandwich rule with in-place KD."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from razor_ext.nas.algorithms.sandwich import SandwichAlgorithm
from razor_ext.registry import MODELS

__all__ = ['BigNAS', 'set_dropout']


def set_dropout(layers: Sequence[nn.Module], stages: Sequence[int], rate: float) -> int:
    """MMRazor's stochastic-depth schedule: block ``j`` of all ``B`` blocks (counted over every
    stage, in order) gets ``rate * j / B``, but only in the stages numbered (from 1) in
    ``stages``; blocks of other stages keep theirs. A block is a child of a stage with a
    ``drop_path_rate`` attribute. Returns the number of blocks set.

    Example:
        >>> class Block(nn.Module):
        ...     drop_path_rate = 0.0
        >>> layers = [nn.Sequential(Block(), Block()), nn.Sequential(Block(), Block())]
        >>> set_dropout(layers, [2], 0.4), [b.drop_path_rate for b in layers[1]]
        (2, [0.2, 0.30000000000000004])
    """
    blocks = [[b for b in layer.children() if hasattr(b, 'drop_path_rate')] for layer in layers]
    total, seen, changed = sum(len(b) for b in blocks), 0, 0
    for idx, stage in enumerate(blocks, start=1):
        if idx in stages:
            for j, block in enumerate(stage):
                block.drop_path_rate = rate * (seen + j) / total
                changed += 1
        seen += len(stage)
    return changed


def _mutator_from(mutator: Any, mutators: Any) -> Any:
    """MMRazor's OFA config passes ``mutators=`` (plural): a mutator config, or the 0.x form
    ``dict(channel_mutator=..., value_mutator=...)``, which one NasMutator now covers."""
    if mutators is None:
        return mutator
    if mutator is not None:
        raise ValueError('BigNAS: pass mutator= or mutators=, not both')
    if isinstance(mutators, Mapping) and 'type' not in mutators:
        unknown = set(mutators) - {'channel_mutator', 'value_mutator'}
        if unknown:
            raise ValueError(f'BigNAS: mutators= takes a mutator config or channel_mutator / '
                             f'value_mutator, got {sorted(unknown)}')
        return dict(type='NasMutator')
    return mutators


@MODELS.register_module()
class BigNAS(SandwichAlgorithm):
    """BigNAS (Yu et al. 2020), MMRazor's ``BigNAS``.

    Same step as :class:`AutoSlim` over every elastic dimension of the supernet; the largest
    subnet trains with stochastic depth, the smaller ones without. On an architecture with
    ``backbone.layers`` (MMRazor's searchable MobileNets) the rate follows MMRazor's
    :func:`set_dropout` schedule over ``backbone_dropout_stages``; otherwise every module with a
    ``drop_path_rate`` / ``drop_prob`` attribute gets ``drop_path_rate``.

    Args:
        drop_path_rate: drop-path rate of the max subnet.
        backbone_dropout_stages: stages (numbered from 1) whose blocks get drop-path; None
            means every stage.
        mutators: MMRazor's OFA configs name the mutator ``mutators=``; accepted as ``mutator``.
        other arguments: see :class:`SandwichAlgorithm`.

    Example:
        >>> algo = MODELS.build(dict(type='BigNAS', architecture=supernet_cfg,
        ...     mutators=dict(type='NasMutator')))  # doctest: +SKIP
    """

    def __init__(self, architecture: Any, mutator: Any = None, distiller: Any = None,
                 data_preprocessor: Any = None, num_random_samples: int = 2,
                 drop_path_rate: float = 0.2, backbone_dropout_stages: list[int] | None = None,
                 init_cfg: Mapping[str, Any] | None = None, norm_training: bool = False,
                 loss_fn: Any = None, mutators: Any = None) -> None:
        super().__init__(architecture, _mutator_from(mutator, mutators), distiller,
                         norm_training, num_random_samples, data_preprocessor, init_cfg, loss_fn)
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(f'drop_path_rate must be in [0, 1), got {drop_path_rate!r}')
        self.drop_path_rate = drop_path_rate
        self.backbone_dropout_stages = backbone_dropout_stages

    def before_subnet(self, kind: str) -> None:
        rate = self.drop_path_rate if kind == 'max' else 0.0
        layers = getattr(getattr(self.architecture, 'backbone', None), 'layers', None)
        if isinstance(layers, (list, nn.ModuleList)) and layers:
            stages = self.backbone_dropout_stages
            if stages is None:
                stages = list(range(1, len(layers) + 1))
            if set_dropout(layers, stages, rate):
                return
        for module in self.architecture.modules():
            for attr in ('drop_path_rate', 'drop_prob'):
                if module is not self and isinstance(getattr(module, attr, None), float):
                    setattr(module, attr, rate)
