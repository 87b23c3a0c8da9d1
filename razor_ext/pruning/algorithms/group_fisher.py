"""``GroupFisherAlgorithm``: remove, every ``interval`` iterations, the channel (or head) whose
accumulated Fisher information per FLOP is lowest (Liu et al., 2021, "Group Fisher Pruning")."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from razor_ext.algorithm.base_algorithm import BaseAlgorithm
from razor_ext.pruning.algorithms.ite_prune import build_mutator
from razor_ext.pruning.mutators.channel_mutator import ChannelMutator
from razor_ext.analysis.analyzer import split_inputs
from razor_ext.analysis.tracer import frozen_state
from razor_ext.registry import MODELS


@MODELS.register_module()
class GroupFisherAlgorithm(BaseAlgorithm):
    """Group Fisher pruning on the channel units of the architecture.

    Each atom (a channel coupled across layers, or a whole head) carries a gate ``g = 1`` that
    scales all its coupled weights; the Fisher information of the gate, ``(dL/dg)^2``, is
    accumulated over the batches of ``interval`` iterations (one value per batch: the batch-level
    estimate, not per sample), divided by the FLOPs the atom costs (``normalization_type=
    'flops'``) or not (``'none'``), and the lowest atom of any unit that keeps more than one is
    removed (masked). ``to_static()`` returns the physically pruned model.

    Args:
        architecture: the model; mutator: ``ChannelMutator`` config or instance.
        interval: iterations between removals; num_prune: removals in total (None: unlimited).
        normalization_type: 'flops' or 'none'. example_inputs: inputs for the analysis.
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any],
                 mutator: ChannelMutator | Mapping[str, Any] | None = None, interval: int = 10,
                 num_prune: int | None = None, normalization_type: str = 'flops',
                 example_inputs: Any = None, **kwargs: Any) -> None:
        super().__init__(architecture, **kwargs)
        if normalization_type not in ('flops', 'none'):
            raise ValueError(f"normalization_type must be 'flops' or 'none', got "
                             f'{normalization_type!r}')
        self.mutator = build_mutator(mutator)
        self.mutator.prepare_from_supernet(self.architecture, example_inputs)
        self.interval, self.num_prune = interval, num_prune
        self.normalization_type = normalization_type
        analysis = self.mutator.analysis
        self.fisher = np.zeros(analysis.resolved.final.size)
        self.cost = self._atom_flops(self.mutator.example_inputs)
        self.iteration = 0
        self.pruned = 0

    def _atom_flops(self, example_inputs: Any) -> np.ndarray:
        """FLOPs attributable to each atom: every conv/linear's FLOPs spread over the channels of
        each of its pruned dims."""
        analysis = self.mutator.analysis
        args, kwargs = split_inputs(example_inputs)
        counter = FlopCounterMode(display=False)
        with frozen_state(self.architecture), counter:
            self.architecture(*args, **kwargs)
        per_module = {k.split('.', 1)[1] if '.' in k else '': sum(v.values())
                      for k, v in counter.get_flop_counts().items()}
        cost = np.zeros(analysis.resolved.final.size)
        for pos, fa in zip(analysis.positions, analysis.final):
            module = pos.key.rsplit('.', 1)[0]
            flops = per_module.get(module, 0)
            if flops and pos.role in ('out', 'in'):
                np.add.at(cost, fa, flops / fa.size)
        return np.maximum(cost, 1.0)

    def _gate_grads(self) -> np.ndarray:
        """dL/dg per atom from the coupled weights' gradients: sum over coupled tensors of
        ``sum(w * dL/dw)`` over the atom's slices (the chain rule through ``w * g``)."""
        analysis = self.mutator.analysis
        grads = np.zeros(analysis.resolved.final.size)
        for pos, fa in zip(analysis.positions, analysis.final):
            t = self.mutator._tensor(pos.key)
            if not isinstance(t, nn.Parameter) or t.grad is None:
                continue
            per = (t.detach() * t.grad).movedim(pos.dim, 0).reshape(t.shape[pos.dim], -1).sum(1)
            np.add.at(grads, fa, per.double().numpy())
        return grads

    def train_step(self, data: Any, optimizer: Any) -> dict[str, float]:
        log = super().train_step(data, optimizer)
        self.fisher += self._gate_grads() ** 2
        self.iteration += 1
        if self.iteration % self.interval == 0 and (self.num_prune is None
                                                    or self.pruned < self.num_prune):
            self.prune_one()
        return log

    def prune_one(self) -> str | None:
        """Mask the lowest-scoring atom; returns its unit's name (None if nothing can go)."""
        score = self.fisher / (self.cost if self.normalization_type == 'flops' else 1.0)
        best, best_unit, best_i = np.inf, None, -1
        for unit in self.mutator.units:
            if unit.kept.sum() <= 1:
                continue
            alive = np.nonzero(unit.kept)[0]
            s = score[unit.unit.atoms[alive]]
            j = int(np.argmin(s))
            if s[j] < best:
                best, best_unit, best_i = s[j], unit, alive[j]
        if best_unit is None:
            return None
        best_unit.kept[best_i] = False
        best_unit.current_choice = int(best_unit.kept.sum()) * best_unit.divisor
        self.mutator._update_masks()
        self.fisher[:] = 0
        self.pruned += 1
        return best_unit.name

    def to_static(self) -> nn.Module:
        return self.mutator.to_static(self.architecture)
