"""DARTS: bi-level search; architecture parameters have their own optimizer and own step."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from razor_ext.nas.algorithms.base_nas import (NASAlgorithm, is_optimizer_dict,
                                               optimizer_step, pick_optimizer)
from razor_ext.registry import MODELS

__all__ = ['DARTS']

# reducer(grads, like) -> grads averaged over the ranks (see DARTS.set_gradient_reducer)
GradientReducer = Callable[[Sequence[torch.Tensor | None], Sequence[torch.Tensor]],
                           list[torch.Tensor | None]]


@contextlib.contextmanager
def _frozen(params: Sequence[nn.Parameter]) -> Iterator[None]:
    """Temporarily stop autograd from computing gradients for ``params``."""
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


@MODELS.register_module(name=['DARTS', 'Darts'])  # 'Darts': MMRazor's registered name
class DARTS(NASAlgorithm):
    """Differentiable architecture search (Liu et al. 2019), MMRazor's ``DARTS``.

    With an optimizer dict ``{'architecture': weights_opt, 'mutator': arch_opt}`` and ``data``
    a pair ``(supernet_batch, mutator_batch)``, one :meth:`train_step` does the architecture
    step on the mutator batch (only the arch params get gradients: the weights are frozen
    while it runs), then the weight step on the supernet batch (arch params frozen).
    ``unroll=True`` uses the second-order approximation (a virtual SGD step of the weights and
    a finite-difference Hessian-vector product), which needs a torch optimizer for the
    weights. With a single optimizer the step is an ordinary joint one.

    Args:
        architecture: supernet whose mutables are DARTS ops (``DiffMutableOP``).
        mutator: a NasMutator-like object whose parameters / ``arch_params`` are the
            architecture parameters; ``prepare_arch_params()`` is called when it has one.
        unroll: second-order (unrolled) architecture gradient.
        norm_training, data_preprocessor, init_cfg, loss_fn: see :class:`NASAlgorithm`.

    Example:
        >>> opt = dict(architecture=torch.optim.SGD(algo.weight_parameters(), 0.025),
        ...            mutator=torch.optim.Adam(algo.arch_parameters(), 3e-4))  # doctest: +SKIP
        >>> algo.train_step((train_batch, val_batch), opt)  # doctest: +SKIP
    """

    def __init__(self, architecture: Any, mutator: Any = None, unroll: bool = False,
                 norm_training: bool = False, data_preprocessor: Any = None,
                 init_cfg: Mapping[str, Any] | None = None, loss_fn: Any = None) -> None:
        super().__init__(architecture, mutator, norm_training, data_preprocessor, init_cfg,
                         loss_fn)
        prepare = getattr(self.mutator, 'prepare_arch_params', None)
        if callable(prepare):
            prepare()
        if not self.arch_parameters():
            raise ValueError('DARTS needs architecture parameters: the mutator has none '
                             '(is the supernet built from DiffMutableOP?)')
        self.unroll = unroll
        self._gradient_reducer: GradientReducer | None = None

    def set_gradient_reducer(self, reducer: GradientReducer | None) -> None:
        """Install the data-parallel gradient mean (``None``: a single process).

        The unrolled step applies gradients in a virtual SGD step and takes a finite-difference
        Hessian-vector product along another gradient, outside any optimizer step, so the
        averaging that runs before each optimizer step does not see them. A data-parallel
        runner (``razor_ext.engine.distributed.DataParallelContext``) calls this with its
        reduction, ``reducer(grads, like) -> grads averaged over ranks`` (``None`` entries
        allowed), so that every rank takes the virtual step of the global batch.
        """
        self._gradient_reducer = reducer

    def _reduce(self, grads: Sequence[torch.Tensor | None],
                like: Sequence[torch.Tensor]) -> list[torch.Tensor | None]:
        return list(grads) if self._gradient_reducer is None else self._gradient_reducer(grads, like)

    def _loss(self, data: Any) -> tuple[torch.Tensor, dict[str, float]]:
        batch = self._preprocess(data, training=True)
        return self.parse_losses(self(batch['inputs'], batch['data_samples'], mode='loss'))

    def train_step(self, data: Any, optimizer: Any) -> dict[str, float]:
        if not is_optimizer_dict(optimizer):
            return super().train_step(data, optimizer)
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise ValueError('with an optimizer dict, DARTS data must be a pair '
                             '(supernet_batch, mutator_batch)')
        supernet_data, mutator_data = data
        arch_opt = pick_optimizer(optimizer, 'mutator')
        weight_opt = pick_optimizer(optimizer, 'architecture')
        arch, weights = self.arch_parameters(), self.weight_parameters()
        log: dict[str, float] = {}
        if self.unroll:
            log.update(self._unrolled_arch_step(supernet_data, mutator_data, weight_opt,
                                                arch_opt))
        else:
            with _frozen(weights):
                total, arch_log = self._loss(mutator_data)
                optimizer_step(arch_opt, total)
            log.update({f'mutator.{k}': v for k, v in arch_log.items()})
        with _frozen(arch):
            total, weight_log = self._loss(supernet_data)
            optimizer_step(weight_opt, total)
        log.update({f'supernet.{k}': v for k, v in weight_log.items()})
        return log

    # ------------------------------------------------------------ second order
    def _unrolled_arch_step(self, supernet_data: Any, mutator_data: Any, weight_opt: Any,
                            arch_opt: Any) -> dict[str, float]:
        if not isinstance(weight_opt, torch.optim.Optimizer):
            raise TypeError('unroll=True needs a torch.optim.Optimizer for the weights (its lr, '
                            'momentum and weight decay define the virtual step)')
        arch, weights = self.arch_parameters(), self.weight_parameters()
        group = weight_opt.param_groups[0]
        lr, momentum, wd = group['lr'], group.get('momentum', 0.0), group.get('weight_decay', 0.0)
        backup = [w.detach().clone() for w in weights]
        # 1. virtual step w' = w - lr * (dL_train/dw + wd * w + momentum * buffer)
        loss, _ = self._loss(supernet_data)
        grads = self._reduce(torch.autograd.grad(loss, weights, allow_unused=True), weights)
        with torch.no_grad():
            for w, g in zip(weights, grads):
                step = (torch.zeros_like(w) if g is None else g) + wd * w
                buf = weight_opt.state.get(w, {}).get('momentum_buffer')
                if momentum and buf is not None:
                    step = step + momentum * buf
                w.sub_(lr * step)
        # 2. validation loss at w': gradients for alpha and w'
        val_loss, val_log = self._loss(mutator_data)
        grads = torch.autograd.grad(val_loss, arch + weights, allow_unused=True)
        d_alpha = [torch.zeros_like(a) if g is None else g for a, g in zip(arch, grads)]
        # d_w sets both the size and the direction of the finite difference: it must be the
        # global batch's. d_alpha and the Hessian term stay per rank: a.grad is linear in
        # them and is averaged before arch_opt steps, like any gradient.
        d_w = [torch.zeros_like(w) if g is None else g
               for w, g in zip(weights, self._reduce(grads[len(arch):], weights))]
        # 3. finite-difference Hessian-vector product around the original w
        norm = torch.cat([d.flatten() for d in d_w]).norm()
        eps = 0.01 / (norm + 1e-12)
        hessian = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for w, b, d in zip(weights, backup, d_w):
                    w.copy_(b + sign * eps * d)
            loss, _ = self._loss(supernet_data)
            hessian.append(torch.autograd.grad(loss, arch, allow_unused=True))
        with torch.no_grad():
            for w, b in zip(weights, backup):
                w.copy_(b)
        arch_opt.zero_grad()
        for a, da, hp, hn in zip(arch, d_alpha, *hessian):
            hp = torch.zeros_like(a) if hp is None else hp
            hn = torch.zeros_like(a) if hn is None else hn
            a.grad = da - lr * (hp - hn) / (2 * eps)
        arch_opt.step()
        return {f'mutator.{k}': v for k, v in val_log.items()}
