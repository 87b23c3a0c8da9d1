"""``DMCP``: Differentiable Markov Channel Pruning (Guo et al., CVPR 2020), MMRazor's training
schedule: sandwich-style subnet steps on the weights, then, every ``arch_train_freq`` iterations
past ``arch_start_train``, a step of the Markov arch parameters on the task loss and a FLOPs loss."""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.algorithm.base_algorithm import BaseAlgorithm, _build_module
from razor_ext.pruning.mutators.dmcp_channel_mutator import DMCPChannelMutator
from razor_ext.registry import MODELS

_STRATEGIES = ('max', 'min', 'arch_random', 'scheduled_random')


def dmcp_flops_loss(expected: Tensor, target_mflops: float, loss_type: str = 'log_l1',
                    weight: float = 1.0) -> Tensor:
    """MMRazor's DMCP FLOPs loss of the expected FLOPs (a tensor) against ``target_mflops``.

    ``'l1'``: ``|E - T|``; ``'l2'``: ``(E - T)^2``; ``'inverted_log_l1'``: ``-log(1 / (E - T +
    1e-5))``; ``'log_l1'`` (MMRazor's default): ``log(r * |E - 0.95 t|)`` when ``E`` is not in
    ``[0.95 t, t)`` (then 0), ``r = 0.1`` if ``|E - T| > 200`` else 1, where ``T = 1e6 t`` but the
    band and the offset use ``t`` (MFLOPs) as MMRazor's code does, so for any realistic ``E`` it is
    ``log(0.1 * |E - 0.95 t|)``: a pull towards fewer FLOPs that does not stop at the target.

    Example:
        >>> import math
        >>> loss = dmcp_flops_loss(torch.tensor(2e9, dtype=torch.float64), 1000.0)
        >>> math.isclose(float(loss), math.log(0.1 * (2e9 - 950)))
        True
    """
    error = expected - target_mflops * 1e6
    if loss_type == 'l2':
        loss = error ** 2
    elif loss_type == 'inverted_log_l1':
        loss = -torch.log(1 / (error + 1e-5))
    elif loss_type == 'l1':
        loss = error.abs()
    elif loss_type == 'log_l1':
        ratio = 0.1 if abs(float(error.detach())) > 200 else 1.0
        lower = target_mflops * 0.95
        if float(expected.detach()) < lower:
            loss = torch.log(ratio * error.abs())
        elif float(expected.detach()) < target_mflops:
            loss = expected * 0
        else:
            loss = torch.log(ratio * (expected - lower).abs())
    else:
        raise ValueError(f"flops_loss_type must be 'log_l1', 'l1', 'l2' or 'inverted_log_l1', "
                         f'got {loss_type!r}')
    return loss * weight


def _detached(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.detach()
    if isinstance(x, (tuple, list)):
        return type(x)(_detached(v) for v in x)
    return x


@MODELS.register_module()
class DMCP(BaseAlgorithm):
    """DMCP on the channel units of ``architecture``.

    One ``train_step`` runs the subnets of ``strategy`` in order, each a forward, backward and
    step of the ``'architecture'`` optimizer: ``'max'`` (the whole net; its outputs are the
    teacher records), ``'min'``, ``'arch_random'`` (a Markov-chain sample once the arch
    parameters train, else uniform) and ``'scheduled_random'`` (Markov sample with probability
    ``1 - p``, ``p`` decaying by 0.9999 a step, else uniform). Subnets other than ``'max'`` add
    the ``distiller`` losses once past ``distillation_times``. Past ``arch_start_train``, every
    ``arch_train_freq`` steps the ``'mutator'`` optimizer steps the arch parameters on the
    task loss of the Markov-gated whole net (eval mode), then on :func:`dmcp_flops_loss` of
    the expected FLOPs.

    Args:
        architecture: the supernet. distiller: ``ConfigurableDistiller`` config (teacher and
            student recorders on the same net). mutator_cfg: ``DMCPChannelMutator`` config.
        strategy: subnets per step. arch_start_train, arch_train_freq, distillation_times:
            iteration thresholds. target_flops: MFLOPs (multiply-adds). flops_loss_type,
            flop_loss_weight: see :func:`dmcp_flops_loss`. example_inputs: for the analysis.

    ``optimizer``: ``{'architecture': ..., 'mutator': ...}`` (one optimizer alone serves the
    weights; the arch step then raises).

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 20, 3), nn.BatchNorm2d(20), nn.ReLU(),
        ...                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(20, 4))
        >>> algo = DMCP(net, distiller=dict(type='ConfigurableDistiller'),
        ...             mutator_cfg=dict(type='DMCPChannelMutator'),
        ...             example_inputs=torch.randn(1, 3, 8, 8), strategy=['max', 'min'])
        >>> opt = dict(architecture=torch.optim.SGD(algo.architecture.parameters(), lr=0.1),
        ...            mutator=torch.optim.Adam(algo.mutator.parameters()))
        >>> sorted(algo.train_step((torch.randn(2, 3, 8, 8), torch.tensor([0, 1])), opt))
        ['max_subnet1.loss', 'min_subnet1.loss']
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any],
                 distiller: Mapping[str, Any] | nn.Module,
                 mutator_cfg: Mapping[str, Any] | DMCPChannelMutator | None = None,
                 strategy: Sequence[str] = ('max', 'min', 'arch_random'),
                 arch_start_train: int = 10000, arch_train_freq: int = 500,
                 distillation_times: int = 20000, target_flops: float = 150,
                 flops_loss_type: str = 'log_l1', flop_loss_weight: float = 1.0,
                 example_inputs: Any = None, **kwargs: Any) -> None:
        super().__init__(architecture, **kwargs)
        unknown = [s for s in strategy if s not in _STRATEGIES]
        if unknown:
            raise ValueError(f'strategy: unknown {unknown}; choose from {_STRATEGIES}')
        if arch_train_freq < 1:
            raise ValueError(f'arch_train_freq must be >= 1, got {arch_train_freq}')
        self.strategy = list(strategy)
        self.arch_start_train, self.arch_train_freq = arch_start_train, arch_train_freq
        self.distillation_times, self.target_flops = distillation_times, target_flops
        self.flops_loss_type, self.flop_loss_weight = flops_loss_type, flop_loss_weight
        self.cur_sample_prob = 1.0
        self.arch_train = False
        self.iteration = 0
        cfg = dict(mutator_cfg or {}) if not isinstance(mutator_cfg, nn.Module) else None
        if cfg is not None:
            kind = str(cfg.pop('type', 'DMCPChannelMutator')).split('.')[-1]
            if kind != 'DMCPChannelMutator':
                raise ValueError(f"mutator_cfg type must be 'DMCPChannelMutator', got {kind!r}")
            mutator_cfg = DMCPChannelMutator(**cfg)
        self.mutator = mutator_cfg
        self.mutator.prepare_from_supernet(self.architecture, example_inputs)
        self.distiller = _build_module(distiller, 'distiller')
        self.distiller.prepare_from_teacher(self.architecture)
        self.distiller.prepare_from_student(self.architecture)

    def set_subnet(self, mode: str, arch_train: bool | None = None) -> None:
        """``'max'`` / ``'min'`` / ``'random'`` / ``'direct'`` / ``'expected'`` widths."""
        self.mutator.sample_subnet(mode, self.arch_train if arch_train is None else arch_train)

    def _step(self, data: dict[str, Any], optimizer: torch.optim.Optimizer,
              teacher: dict[str, list[Any]] | None) -> dict[str, Tensor]:
        optimizer.zero_grad()
        with self.distiller.student_recorders:
            losses = dict(self.loss(data['inputs'], data['data_samples']))
        if teacher is not None:
            # compute_distill_losses clears the records: every subnet gets the max net's records
            for name, rec in self.distiller.teacher_recorders.recorders.items():
                rec.data_buffer[:] = teacher.get(name, [])
            losses.update(self.distiller.compute_distill_losses())
        total, _ = self.parse_losses(losses)
        total.backward()
        optimizer.step()
        return losses

    def train_step(self, data: Any, optimizer: Any) -> dict[str, float]:
        weights = optimizer['architecture'] if isinstance(optimizer, Mapping) else optimizer
        if not self.arch_train and self.iteration > self.arch_start_train:
            self.arch_train = True
        batch = self._preprocess(data, training=True)
        distill = self.iteration > self.distillation_times
        log: dict[str, float] = {}
        counts = dict.fromkeys(('max', 'min', 'random', 'direct'), 1)
        teacher: dict[str, list[Any]] = {}

        def record(kind: str, losses: Mapping[str, Tensor]) -> None:
            log.update({f'{kind}_subnet{counts[kind]}.{k}': float(v.detach()) if isinstance(v, Tensor)
                        else float(v) for k, v in losses.items()})
            counts[kind] += 1

        for kind in self.strategy:
            if kind == 'max':
                self.set_subnet('max')
                weights.zero_grad()
                with self.distiller.teacher_recorders:
                    losses = self.loss(batch['inputs'], batch['data_samples'])
                    total, _ = self.parse_losses(losses)
                    total.backward()
                weights.step()
                record('max', losses)
                teacher = {n: [_detached(x) for x in r.data_buffer]
                           for n, r in self.distiller.teacher_recorders.recorders.items()}
                continue
            if kind == 'min':
                mode = 'min'
            elif kind == 'arch_random':
                mode = 'direct' if self.arch_train else 'random'
            else:
                mode = ('direct' if random.uniform(0, 1) > self.cur_sample_prob
                        and self.arch_train else 'random')
                self.cur_sample_prob *= 0.9999
            self.set_subnet(mode)
            record(mode, self._step(batch, weights, teacher if distill else None))
        if self.arch_train and self.iteration % self.arch_train_freq == 0:
            if not isinstance(optimizer, Mapping) or 'mutator' not in optimizer:
                raise TypeError("DMCP: training the arch parameters needs optimizer['mutator']")
            log.update(self._update_arch_params(batch, optimizer['mutator']))
        self.iteration += 1
        return log

    def _update_arch_params(self, batch: dict[str, Any], optimizer: torch.optim.Optimizer
                            ) -> dict[str, float]:
        self.eval()
        try:
            self.set_subnet('max', arch_train=True)
            optimizer.zero_grad()
            arch_loss, _ = self.parse_losses(self.loss(batch['inputs'], batch['data_samples']))
            arch_loss.backward()
            optimizer.step()
            self.set_subnet('expected', arch_train=False)
            optimizer.zero_grad()
            flops_loss = self.flops_loss()
            flops_loss.backward()
            optimizer.step()
        finally:
            # the weights' gradients of the arch loss must not reach their next step
            self.architecture.zero_grad(set_to_none=True)
            self.train()
        return {'arch.loss': float(arch_loss.detach()), 'flops.loss': float(flops_loss.detach())}

    def flops_loss(self) -> Tensor:
        """:func:`dmcp_flops_loss` of the mutator's expected FLOPs."""
        return dmcp_flops_loss(self.mutator.expected_flops(), self.target_flops,
                               self.flops_loss_type, self.flop_loss_weight)

    def to_static(self) -> nn.Module:
        """The pruned architecture at the current widths."""
        return self.mutator.to_static(self.architecture)


__all__ = ['DMCP', 'dmcp_flops_loss']
