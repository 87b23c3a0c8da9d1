"""Slimmable networks: one set of weights trained at a fixed list of widths (AutoSlim's
retraining stage), or one of those widths deployed as a plain, physically slimmed model."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from razor_ext.algorithm.base_algorithm import BaseAlgorithm
from razor_ext.nas.algorithms.base_nas import accumulate_grad
from razor_ext.registry import MODELS

__all__ = ['SlimmableNetwork']


@MODELS.register_module()
class SlimmableNetwork(BaseAlgorithm):
    """Slimmable Neural Networks (Yu et al. 2018), MMRazor's ``SlimmableNetwork``.

    Each training step runs every subnet of the mutator (``mutator.subnets``, e.g. AutoSlim's
    searched widths from its channel-unit JSON) on the batch, accumulates the gradients of
    their losses divided by the number of subnets (MMEngine's gradient accumulation over
    ``num_subnet`` passes) and takes one optimizer step. With ``deploy_index >= 0`` the
    architecture is replaced by that subnet, physically slimmed, and trains as a plain model.

    Args:
        architecture: the full-width model (module or ``MODELS`` config).
        mutator: ``dict(type='SlimmableChannelMutator', channel_unit_cfg=..., parse_cfg=...)``
            (built through the registry) or a built mutator with ``subnets``,
            ``set_choices`` and ``deploy``.
        deploy_index: -1 trains all subnets; ``i`` deploys subnet ``i``.
        data_preprocessor, init_cfg, loss_fn: as :class:`BaseAlgorithm`.

    Example:
        >>> algo = MODELS.build(dict(type='SlimmableNetwork', architecture=mbv2_cfg,
        ...     mutator=dict(type='SlimmableChannelMutator', channel_unit_cfg=dict(
        ...         type='SlimmableChannelUnit', units='MBV2_slimmable_config.json'))))  # doctest: +SKIP
        >>> sorted(algo.train_step(batch, optimizer))  # doctest: +SKIP
        ['subnet_0.loss', 'subnet_1.loss', 'subnet_2.loss']
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any], mutator: Any = None,
                 deploy_index: int = -1, data_preprocessor: Any = None,
                 init_cfg: Mapping[str, Any] | None = None, loss_fn: Any = None) -> None:
        super().__init__(architecture, data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                         loss_fn=loss_fn)
        if mutator is None:
            raise ValueError('SlimmableNetwork needs a mutator (SlimmableChannelMutator config)')
        self.mutator = MODELS.build(dict(mutator)) if isinstance(mutator, Mapping) else mutator
        for attr in ('prepare_from_supernet', 'set_choices', 'subnets', 'deploy'):
            if not hasattr(self.mutator, attr):
                raise TypeError(f'mutator {type(self.mutator).__name__} lacks {attr}: pass a '
                                f'SlimmableChannelMutator (or its config)')
        self.mutator.prepare_from_supernet(self.architecture)
        self.num_subnet = len(self.mutator.subnets)
        if self.num_subnet == 0:
            raise ValueError('SlimmableNetwork: the mutator lists no subnets')
        if isinstance(deploy_index, bool) or not isinstance(deploy_index, int) or \
                not -1 <= deploy_index < self.num_subnet:
            raise ValueError(f'deploy_index must be -1 or in [0, {self.num_subnet}), got '
                             f'{deploy_index!r}')
        self.deploy_index = deploy_index
        self.is_deployed = deploy_index >= 0
        if self.is_deployed:
            self.architecture = self.mutator.deploy(deploy_index)

    def train_step(self, data: Any, optimizer: Any) -> dict[str, float]:
        """All subnets on one batch (gradients averaged), one optimizer step; a deployed
        network steps as a plain model. Returns ``{'subnet_<i>.loss': ...}``."""
        if self.is_deployed:
            return super().train_step(data, optimizer)
        batch = self._preprocess(data, training=True)
        optimizer.zero_grad()
        log: dict[str, float] = {}
        for index, subnet in enumerate(self.mutator.subnets):
            self.mutator.set_choices(subnet)
            losses = self(batch['inputs'], batch['data_samples'], mode='loss')
            total, sub_log = self.parse_losses(losses)
            accumulate_grad(optimizer, total / self.num_subnet)
            log.update({f'subnet_{index}.{k}': v for k, v in sub_log.items()})
        optimizer.step()
        return log
