"""``ItePruneAlgorithm``: prune a little every ``step_freq`` iterations until the target,
training in between (the masks make the model keep its shapes until ``to_static``)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from razor_ext.algorithm.base_algorithm import BaseAlgorithm
from razor_ext.pruning.mutators.channel_mutator import ChannelMutator
from razor_ext.registry import MODELS


def build_mutator(cfg: ChannelMutator | Mapping[str, Any] | None) -> ChannelMutator:
    if isinstance(cfg, ChannelMutator):
        return cfg
    cfg = dict(cfg or {})
    kind = cfg.pop('type', 'ChannelMutator').split('.')[-1]
    # MMRazor's GroupFisherChannelMutator is the ChannelMutator with GroupFisher units, which
    # channel_unit_cfg names.
    if kind not in ('ChannelMutator', 'GroupFisherChannelMutator'):
        raise ValueError(f"mutator type must be 'ChannelMutator', got {kind!r}")
    return ChannelMutator(**cfg)


@MODELS.register_module()
class ItePruneAlgorithm(BaseAlgorithm):
    """Iterative pruning: ``prune_times`` steps, one every ``step_freq`` training iterations,
    moving each unit's kept ratio from 1 to its target (linearly).

    Args:
        architecture: the model (or its config).
        mutator_cfg: ``ChannelMutator`` config or instance.
        target_pruning_ratio: kept ratio per unit name (MMRazor semantics), or one float for all.
        step_freq, prune_times: pruning schedule in iterations.
        example_inputs: inputs for the channel analysis (else ``mutator_cfg.parse_cfg.demo_input``).

    Example:
        >>> import torch
        >>> algo = ItePruneAlgorithm(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
        ...                          torch.nn.Linear(8, 2)), target_pruning_ratio=0.5,
        ...                          example_inputs=torch.randn(1, 4))
        >>> opt = torch.optim.SGD(algo.parameters(), lr=0.1)
        >>> _ = algo.train_step((torch.randn(4, 4), torch.tensor([0, 1, 0, 1])), opt)
        >>> algo.to_static()[0].out_features
        4
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any],
                 mutator_cfg: ChannelMutator | Mapping[str, Any] | None = None,
                 target_pruning_ratio: float | Mapping[str, float] = 0.5, step_freq: int = 1,
                 prune_times: int = 1, example_inputs: Any = None, **kwargs: Any) -> None:
        super().__init__(architecture, **kwargs)
        if step_freq < 1 or prune_times < 1:
            raise ValueError(f'step_freq and prune_times must be >= 1, got {step_freq}, '
                             f'{prune_times}')
        self.mutator = build_mutator(mutator_cfg)
        self.mutator.prepare_from_supernet(self.architecture, example_inputs)
        names = [u.name for u in self.mutator.units]
        if isinstance(target_pruning_ratio, Mapping):
            target_pruning_ratio = self.mutator.resolve_names(
                target_pruning_ratio, 'units in target_pruning_ratio')
            self.target = {n: float(target_pruning_ratio.get(n, 1.0)) for n in names}
        else:
            self.target = {n: float(target_pruning_ratio) for n in names}
        self.step_freq, self.prune_times = step_freq, prune_times
        self.iteration = 0

    def is_prune_time(self, iteration: int) -> bool:
        return iteration % self.step_freq == 0 and iteration // self.step_freq < self.prune_times

    def choices_at(self, iteration: int) -> dict[str, float]:
        step = min(iteration // self.step_freq + 1, self.prune_times)
        return {n: 1.0 - (1.0 - t) * step / self.prune_times for n, t in self.target.items()}

    def train_step(self, data: Any, optimizer: Any) -> dict[str, float]:
        if self.is_prune_time(self.iteration):
            self.mutator.set_choices(self.choices_at(self.iteration))
        self.iteration += 1
        return super().train_step(data, optimizer)

    def to_static(self) -> nn.Module:
        """The physically pruned architecture."""
        return self.mutator.to_static(self.architecture)
