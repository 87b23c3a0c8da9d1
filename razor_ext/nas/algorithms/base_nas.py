"""What every NAS algorithm shares: a mutator prepared from the supernet, optimizer handling
(a torch optimizer, an MMEngine-style OptimWrapper, or a dict of them), and ``norm_training``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from razor_ext.algorithm.base_algorithm import BaseAlgorithm
from razor_ext.registry import MODELS

__all__ = ['NASAlgorithm', 'optimizer_step', 'pick_optimizer']

_MUTATOR_METHODS = ('prepare_from_supernet', 'sample_choices', 'set_choices')


def build_mutator(mutator: Any) -> Any:
    """A mutator object from itself or a ``MODELS`` config (default ``dict(type='NasMutator')``)."""
    if mutator is None:
        mutator = dict(type='NasMutator')
    if isinstance(mutator, Mapping):
        mutator = MODELS.build(mutator)
    missing = [m for m in _MUTATOR_METHODS if not hasattr(mutator, m)]
    if missing:
        raise TypeError(f'mutator {type(mutator).__name__} lacks {missing}: pass a NasMutator '
                        f'(or its config dict)')
    return mutator


def optimizer_step(optimizer: Any, loss: torch.Tensor, model: nn.Module | None = None,
                   **backward_kwargs: Any) -> None:
    """zero_grad, backward, step on a torch optimizer, or ``update_params`` on an OptimWrapper."""
    if hasattr(optimizer, 'update_params'):
        optimizer.update_params(loss)
        return
    optimizer.zero_grad()
    loss.backward(**backward_kwargs)
    optimizer.step()


def accumulate_grad(optimizer: Any, loss: torch.Tensor) -> None:
    """Backward ``loss`` into the gradients without stepping (several forwards per step, as in
    the sandwich rule): through an OptimWrapper's ``backward`` where there is one.

    Example:
        >>> w = nn.Parameter(torch.ones(2))
        >>> accumulate_grad(torch.optim.SGD([w], lr=0.1), (2 * w).sum()); w.grad
        tensor([2., 2.])
    """
    if hasattr(optimizer, 'update_params'):
        optimizer.backward(loss)
    else:
        loss.backward()


def pick_optimizer(optimizer: Any, key: str) -> Any:
    """``optimizer[key]`` from a dict / OptimWrapperDict, else ``optimizer`` itself."""
    if isinstance(optimizer, Mapping) or hasattr(optimizer, 'optim_wrappers'):
        try:
            return optimizer[key]
        except KeyError:
            raise KeyError(f'the optimizer dict has no {key!r} (keys: {list(optimizer)})'
                           ) from None
    return optimizer


def is_optimizer_dict(optimizer: Any) -> bool:
    return isinstance(optimizer, Mapping) or hasattr(optimizer, 'optim_wrappers')


class NASAlgorithm(BaseAlgorithm):
    """A :class:`BaseAlgorithm` whose architecture is a supernet driven by ``self.mutator``.

    Args:
        architecture: the supernet (module or ``MODELS`` config).
        mutator: a NasMutator-like object or config; ``prepare_from_supernet`` is called here.
        norm_training: keep BatchNorm layers in training mode when the algorithm is put in eval
            mode (MMRazor's flag: a supernet's shared BN stats fit no single subnet).
        data_preprocessor, init_cfg, loss_fn: as in :class:`BaseAlgorithm`.
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any], mutator: Any = None,
                 norm_training: bool = False, data_preprocessor: Any = None,
                 init_cfg: Mapping[str, Any] | None = None, loss_fn: Any = None) -> None:
        super().__init__(architecture, data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                         loss_fn=loss_fn)
        self.mutator = build_mutator(mutator)
        self.mutator.prepare_from_supernet(self.architecture)
        self.norm_training = norm_training

    def train(self, mode: bool = True) -> NASAlgorithm:
        super().train(mode)
        if self.norm_training and not mode:
            for module in self.architecture.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.training = True
        return self

    def weight_parameters(self) -> list[nn.Parameter]:
        """Parameters of the supernet that are not architecture parameters."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.architecture.parameters() if id(p) not in arch]

    def arch_parameters(self) -> list[nn.Parameter]:
        """The mutator's architecture parameters (empty for one-shot algorithms)."""
        if isinstance(self.mutator, nn.Module):
            return list(self.mutator.parameters())
        params = getattr(self.mutator, 'arch_params', None)
        return list(params.values()) if isinstance(params, Mapping) else []
