"""``DCFF``: Dynamic-coded Filter Fusion (Chen et al., TPAMI 2023), MMRazor's algorithm: fixed
kept ratios per unit, and every ``step_freq`` iterations the fused filters are recomputed at a
temperature that falls from 1 to 1/10000 over training."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from torch import nn

from razor_ext.algorithm.base_algorithm import BaseAlgorithm
from razor_ext.pruning.algorithms.ite_prune import ItePruneAlgorithm
from razor_ext.pruning.mutators.dcff_channel_mutator import DCFFChannelMutator
from razor_ext.registry import MODELS


def dcff_temperature(iteration: int, max_iters: int | None) -> float:
    """MMRazor's DCFF temperature ``1 / T``: ``T = A / (1 + exp(-i)) + 1 - A / 2`` with ``A = 2 *
    (10000 - 1) * (1 + exp(-n)) / (1 - exp(-n))`` (``n = max_iters``; None: ``A = 2 * 9999``,
    its limit), so ``T`` rises from 1 at iteration 0 towards 10000.

    Example:
        >>> dcff_temperature(0, 1000), round(1 / dcff_temperature(50, 1000))
        (1.0, 10000)
    """
    t_s, t_e, k = 1, 10000, 1
    ratio = 1.0 if max_iters is None else (1 + math.exp(-k * max_iters)) / (
        1 - math.exp(-k * max_iters))
    a = 2 * (t_e - t_s) * ratio
    return 1 / (a / (1 + math.exp(-k * iteration)) + t_s - a / 2)


@MODELS.register_module()
class DCFF(ItePruneAlgorithm):
    """DCFF on the channel units of ``architecture``.

    Every ``step_freq`` training iterations (from the first), the units are set to
    ``target_pruning_ratio`` (kept ratios, MMRazor's unit names accepted; missing units keep
    everything) and the fused filters are recomputed with :func:`dcff_temperature`.

    Args:
        architecture: the model. mutator_cfg: ``DCFFChannelMutator`` config.
        target_pruning_ratio: kept ratio per unit name (None: keep all).
        step_freq: iterations between fusions. max_iters: training length for the temperature
            schedule (None: its large-``n`` limit, within 1e-4 for ``n >= 10``).
        prune_times, linear_schedule: accepted for MMRazor's configs (DCFF fuses at a fixed ratio
            every ``step_freq`` iterations; a linear schedule is not part of it).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 2, 3),
        ...                     nn.AdaptiveAvgPool2d(1), nn.Flatten())
        >>> algo = DCFF(net, target_pruning_ratio={'0_(0, 8)_8': 0.5},
        ...             example_inputs=torch.randn(1, 3, 8, 8))
        >>> opt = torch.optim.SGD(algo.parameters(), lr=0.1)
        >>> _ = algo.train_step((torch.randn(2, 3, 8, 8), torch.tensor([0, 1])), opt)
        >>> algo.to_static()[0].out_channels
        4
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any],
                 mutator_cfg: DCFFChannelMutator | Mapping[str, Any] | None = None,
                 target_pruning_ratio: Mapping[str, float] | None = None, step_freq: int = 1,
                 prune_times: int = 0, linear_schedule: bool = False,
                 max_iters: int | None = None, example_inputs: Any = None,
                 **kwargs: Any) -> None:
        if linear_schedule:
            raise ValueError('DCFF: linear_schedule=True is not supported (DCFF prunes at the '
                             'target ratio from the first iteration)')
        if not isinstance(mutator_cfg, DCFFChannelMutator):
            cfg = dict(mutator_cfg or {})
            kind = str(cfg.pop('type', 'DCFFChannelMutator')).split('.')[-1]
            if kind != 'DCFFChannelMutator':
                raise ValueError(f"mutator_cfg type must be 'DCFFChannelMutator', got {kind!r}")
            mutator_cfg = DCFFChannelMutator(**cfg)
        super().__init__(architecture, mutator_cfg, target_pruning_ratio or 1.0,
                         step_freq=step_freq, prune_times=1, example_inputs=example_inputs,
                         **kwargs)
        self.max_iters = max_iters

    def train_step(self, data: Any, optimizer: Any) -> dict[str, float]:
        if self.iteration % self.step_freq == 0:
            self.mutator.set_choices(self.target)
            self.mutator.calc_information(dcff_temperature(self.iteration, self.max_iters))
        self.iteration += 1
        return BaseAlgorithm.train_step(self, data, optimizer)


__all__ = ['DCFF', 'dcff_temperature']
