"""BigNAS: elastic width / depth / kernel / expand ratio, sandwich rule with in-place KD."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from razor_ext.nas.algorithms.sandwich import SandwichAlgorithm
from razor_ext.registry import MODELS

__all__ = ['BigNAS']


@MODELS.register_module()
class BigNAS(SandwichAlgorithm):
    """BigNAS (Yu et al. 2020), MMRazor's ``BigNAS``.

    Same step as :class:`AutoSlim` over every elastic dimension of the supernet; the largest
    subnet trains with drop-path ``drop_path_rate`` (set on every module that has a
    ``drop_path_rate`` / ``drop_prob`` attribute), the smaller ones without.

    Args:
        drop_path_rate: drop-path rate of the max subnet.
        backbone_dropout_stages: kept for MMRazor config compatibility (stages whose blocks
            get drop-path); None means every block.
        other arguments: see :class:`SandwichAlgorithm`.
    """

    def __init__(self, architecture: Any, mutator: Any = None, distiller: Any = None,
                 data_preprocessor: Any = None, num_random_samples: int = 2,
                 drop_path_rate: float = 0.2, backbone_dropout_stages: list[int] | None = None,
                 init_cfg: Mapping[str, Any] | None = None, norm_training: bool = False,
                 loss_fn: Any = None) -> None:
        super().__init__(architecture, mutator, distiller, norm_training, num_random_samples,
                         data_preprocessor, init_cfg, loss_fn)
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(f'drop_path_rate must be in [0, 1), got {drop_path_rate!r}')
        self.drop_path_rate = drop_path_rate
        self.backbone_dropout_stages = backbone_dropout_stages

    def before_subnet(self, kind: str) -> None:
        rate = self.drop_path_rate if kind == 'max' else 0.0
        for module in self.architecture.modules():
            for attr in ('drop_path_rate', 'drop_prob'):
                if module is not self and isinstance(getattr(module, attr, None), float):
                    setattr(module, attr, rate)
