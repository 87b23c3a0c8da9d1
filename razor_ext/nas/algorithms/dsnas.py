"""DSNAS: one-hot sampled paths with differentiable architecture parameters, trained in the
same step as the weights; the architecture is fixed after the search epochs."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from razor_ext.nas.algorithms.base_nas import NASAlgorithm, is_optimizer_dict, pick_optimizer
from razor_ext.supernet.mutables.base_mutable import BaseMutable
from razor_ext.supernet.mutables.diff_mutable_op import DiffMutableOP
from razor_ext.registry import MODELS, TASK_UTILS

__all__ = ['DSNAS']


@MODELS.register_module()
class DSNAS(NASAlgorithm):
    """Discrete stochastic NAS (Hu et al. 2020), MMRazor's ``DSNAS``.

    The supernet's edges are :class:`~razor_ext.supernet.mutables.OneHotMutableOP`: each forward
    runs one sampled candidate per search group, and the one backward of the task loss gives
    both the weights and the architecture parameters their gradients. With an optimizer dict
    ``{'architecture': weights_opt, 'mutator': arch_opt}`` a :meth:`train_step`

    1. (epoch ``< pretrain_epochs``) trains the weights only: paths are sampled from the
       current (untrained) architecture distribution;
    2. (``pretrain_epochs <= epoch < finetune_epochs``) also steps the architecture optimizer,
       adding ``0.01 * sum_groups p_k * flops_k`` (``k``: the sampled candidate) while the
       derived subnet's FLOPs are at or above ``flops_constraints``;
    3. (epoch ``>= finetune_epochs``) fixes every mutable to its most likely candidate (once)
       and trains that subnet's weights.

    The epoch comes from :meth:`set_epoch` (the ``EpochInfoHook`` calls it before each epoch, as
    MMEngine's message hub does for MMRazor). With a single optimizer a step is a plain step.

    Args:
        architecture: the supernet (``OneHotMutableOP`` edges) or its config.
        mutator: NasMutator (or config); ``prepare_arch_params()`` is called here.
        pretrain_epochs: epochs of weight-only training.
        finetune_epochs: the epoch at which the architecture is fixed (> ``pretrain_epochs``).
        flops_constraints: FLOPs budget, in the estimator's units (default millions of FLOPs,
            2 per multiply-add: MMRazor's 300 M multiply-adds is 600 here).
        estimator_cfg: ``ResourceEstimator`` config; ``input_shape`` should match the data
            (default ``(1, 3, 224, 224)``).
        norm_training, data_preprocessor, init_cfg, loss_fn: see :class:`NASAlgorithm`.

    Example:
        >>> algo = DSNAS(supernet, pretrain_epochs=1, finetune_epochs=3,  # doctest: +SKIP
        ...              estimator_cfg=dict(input_shape=(1, 1, 28, 28)))
        >>> opt = dict(architecture=torch.optim.SGD(algo.weight_parameters(), 0.05),
        ...            mutator=torch.optim.Adam(algo.arch_parameters(), 1e-3))  # doctest: +SKIP
        >>> algo.set_epoch(1); algo.train_step((images, labels), opt)  # doctest: +SKIP
    """

    flops_loss_coef = 1e-2

    def __init__(self, architecture: Any, mutator: Any = None, pretrain_epochs: int = 0,
                 finetune_epochs: int = 80, flops_constraints: float = 300.0,
                 estimator_cfg: Mapping[str, Any] | None = None, norm_training: bool = False,
                 data_preprocessor: Any = None, init_cfg: Mapping[str, Any] | None = None,
                 loss_fn: Any = None) -> None:
        super().__init__(architecture, mutator, norm_training, data_preprocessor, init_cfg,
                         loss_fn)
        if not 0 <= pretrain_epochs < finetune_epochs:
            raise ValueError(f'need 0 <= pretrain_epochs < finetune_epochs, got '
                             f'{pretrain_epochs} and {finetune_epochs}')
        prepare = getattr(self.mutator, 'prepare_arch_params', None)
        if not callable(prepare):
            raise TypeError(f'DSNAS needs a mutator with prepare_arch_params (NasMutator), got '
                            f'{type(self.mutator).__name__}')
        prepare()
        if not self.arch_parameters():
            raise ValueError('DSNAS needs architecture parameters: the supernet has no '
                             'differentiable mutables (OneHotMutableOP)')
        self.pretrain_epochs, self.finetune_epochs = pretrain_epochs, finetune_epochs
        self.flops_constraints = float(flops_constraints)
        estimator_cfg = {'type': 'ResourceEstimator', **dict(estimator_cfg or {})}
        self.estimator = TASK_UTILS.build(estimator_cfg)
        self.cur_epoch = 0
        self.is_supernet = True
        self._candidate_flops: dict[str, torch.Tensor] | None = None  # group -> flops per choice
        self._base_flops = 0.0

    def set_epoch(self, epoch: int) -> None:
        """The training epoch (0-based) that the next steps belong to."""
        self.cur_epoch = int(epoch)

    def need_update_mutator(self, epoch: int) -> bool:
        return self.pretrain_epochs <= epoch < self.finetune_epochs

    # ------------------------------------------------------------------ training
    def train_step(self, data: Any, optimizer: Any) -> dict[str, float]:
        if not is_optimizer_dict(optimizer):
            return super().train_step(data, optimizer)
        if self.cur_epoch >= self.finetune_epochs and self.is_supernet:
            self.fix_architecture()
        weight_opt = pick_optimizer(optimizer, 'architecture')
        arch_opt = pick_optimizer(optimizer, 'mutator')
        update_arch = self.is_supernet and self.need_update_mutator(self.cur_epoch)
        weight_opt.zero_grad()
        arch_opt.zero_grad()
        batch = self._preprocess(data, training=True)
        total, log = self.parse_losses(self(batch['inputs'], batch['data_samples'], mode='loss'))
        total.backward()
        weight_opt.step()
        log = {f'supernet.{k}': v for k, v in log.items()}
        if update_arch:
            flops_loss = self.compute_flops_loss()
            if flops_loss is not None:
                flops_loss.backward()
                log['mutator.flops_loss'] = float(flops_loss.detach())
            arch_opt.step()
        arch_opt.zero_grad()  # pretraining's architecture gradients are not used
        return log

    def fix_architecture(self) -> None:
        """Fix every mutable to its current most likely choice: the supernet becomes the
        searched subnet (its weights are kept)."""
        self.mutator.set_choices(self.mutator.sample_choices())
        for module in list(self.architecture.modules()):
            if isinstance(module, BaseMutable) and not module.is_fixed:
                module.fix_chosen(module.current_choice)
        self.is_supernet = False

    # ------------------------------------------------------------------ resources
    def _measure_candidates(self) -> None:
        """FLOPs of every candidate of each searched group (at the input shape it sees in a
        forward of ``estimator.input_shape``) and of the rest of the network."""
        groups = {g: ms for g, ms in self.mutator.search_groups.items()
                  if g in self.mutator.arch_params and isinstance(ms[0], DiffMutableOP)}
        inputs: dict[int, Any] = {}
        hooks = [op.register_forward_pre_hook(lambda m, a: inputs.setdefault(id(m), a))
                 for ms in groups.values() for m in ms for op in m._candidates.values()]
        saved = {id(m): m.arch_param for ms in groups.values() for m in ms}
        for ms in groups.values():
            for m in ms:
                m.set_forward_args(None)  # no arch param: every candidate runs once
        try:
            total = self.estimator.estimate(self.architecture)['flops']
        finally:
            for h in hooks:
                h.remove()
            for ms in groups.values():
                for m in ms:
                    m.set_forward_args(saved[id(m)])
        scale = {'M': 1e-6, 'G': 1e-9}.get(getattr(self.estimator, 'units', None), 1.0)
        flops: dict[str, torch.Tensor] = {}
        all_candidates = 0.0
        was_training = self.architecture.training
        self.architecture.eval()
        with torch.no_grad():
            for group, members in groups.items():
                per_choice = torch.zeros(len(members[0].choices))
                for m in members:
                    for i, op in enumerate(m._candidates.values()):
                        with FlopCounterMode(display=False) as counter:
                            op(*inputs[id(op)])
                        per_choice[i] += counter.get_total_flops() * scale
                flops[group] = per_choice
                all_candidates += float(per_choice.sum())
        self.architecture.train(was_training)
        self._candidate_flops, self._base_flops = flops, float(total) - all_candidates

    def subnet_flops(self) -> float:
        """FLOPs of the subnet derived now (each group's most likely candidate)."""
        if self._candidate_flops is None:
            self._measure_candidates()
        assert self._candidate_flops is not None
        return self._base_flops + sum(
            float(f[int(torch.argmax(self.mutator.arch_params[g].detach()))])
            for g, f in self._candidate_flops.items())

    def compute_flops_loss(self) -> torch.Tensor | None:
        """``coef * sum_groups p(sampled) * flops(sampled)`` when the derived subnet exceeds
        ``flops_constraints``; None otherwise."""
        if self.subnet_flops() < self.flops_constraints:
            return None
        assert self._candidate_flops is not None
        loss = torch.zeros(())
        for group, flops in self._candidate_flops.items():
            probs = F.softmax(self.mutator.arch_params[group], -1)
            for m in self.mutator.search_groups[group]:
                weights = getattr(m, 'arch_weights', None)
                if weights is None or m.is_fixed:
                    continue
                k = int(torch.argmax(weights.detach()))
                loss = loss + probs[k] * flops[k] / len(self.mutator.search_groups[group])
        return self.flops_loss_coef * loss
