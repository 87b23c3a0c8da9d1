"""``JointCompression``: the config-built algorithm that trains a joint supernet (operators,
widths, bit widths) with the sandwich rule and QAT-aware steps."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from razor_ext.joint.space import JointSearchSpace
from razor_ext.nas.algorithms.sandwich import SandwichAlgorithm
from razor_ext.registry import MODELS

__all__ = ['JointCompression']


@MODELS.register_module()
class JointCompression(SandwichAlgorithm):
    """Sandwich-rule training of a supernet whose search space also holds bit widths.

    Each step trains the largest subnet (float, widest) on the labels, then the smallest
    (narrowest, lowest bit widths) and ``num_random_samples`` random subnets on the largest's
    outputs (in-place distillation): the fake quants of every sampled width observe and train,
    so any subnet the search samples is already QAT-aware.

    Args:
        architecture: the supernet (module or ``MODELS`` config), e.g.
            ``dict(type='SearchableSlimNet')``.
        input_shape: ``(1, C, H, W)`` example input shape (layer order, export shape).
        weight_bits, act_bits: bit width choices (16 = float).
        units, bit_groups, fixed: see :class:`JointSearchSpace`.
        num_random_samples, distiller, data_preprocessor, init_cfg, loss_fn: see
            :class:`~razor_ext.nas.algorithms.sandwich.SandwichAlgorithm`.

    Attributes:
        space: the :class:`JointSearchSpace` (its mutator is this algorithm's ``mutator``).

    Example:
        >>> algo = JointCompression(dict(type='SearchableSlimNet', widths=((4, 8),), strides=(2,)),
        ...                         input_shape=(1, 1, 28, 28))
        >>> opt = torch.optim.SGD(algo.parameters(), lr=0.01)
        >>> log = algo.train_step((torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])), opt)
        >>> sorted(log)[:2]
        ['max_subnet.loss', 'min_subnet.loss']
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any], input_shape: Sequence[int],
                 weight_bits: Sequence[int] = (4, 8, 16), act_bits: Sequence[int] = (8, 16),
                 units: Sequence[str] | None = None, bit_groups: str = 'unit',
                 fixed: Mapping[str, Any] | None = None, num_random_samples: int = 2,
                 distiller: Any = None, data_preprocessor: Any = None,
                 init_cfg: Mapping[str, Any] | None = None, loss_fn: Any = None) -> None:
        if isinstance(architecture, Mapping):
            architecture = MODELS.build(dict(architecture))
        example = torch.zeros(tuple(input_shape))
        space = JointSearchSpace(architecture, example, weight_bits, act_bits, units, bit_groups, fixed)
        super().__init__(architecture, mutator=space, distiller=distiller,
                         num_random_samples=num_random_samples, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg, loss_fn=loss_fn)
        self.space = space
