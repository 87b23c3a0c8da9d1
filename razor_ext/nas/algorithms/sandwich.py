"""The sandwich rule with in-place distillation, shared by AutoSlim and BigNAS.

Each training step accumulates gradients from the largest subnet (trained on the labels), the
smallest and ``num_random_samples`` random subnets (trained to match the largest one's
detached outputs), then takes one optimizer step.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from razor_ext.nas.algorithms.base_nas import NASAlgorithm, accumulate_grad
from razor_ext.registry import MODELS

__all__ = ['SandwichAlgorithm', 'InplaceDistillLoss']


class InplaceDistillLoss(nn.Module):
    """Soft-target KL ``tau**2 * KL(softmax(t / tau) || softmax(s / tau))`` (batch mean).

    Used only when no ``KLDivergence`` is registered in ``MODELS``.
    """

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.tau, self.loss_weight = tau, loss_weight

    def forward(self, preds_S: torch.Tensor, preds_T: torch.Tensor) -> torch.Tensor:
        t = self.tau
        kl = F.kl_div(F.log_softmax(preds_S / t, 1), F.log_softmax(preds_T.detach() / t, 1),
                      reduction='batchmean', log_target=True)
        return self.loss_weight * t * t * kl


def _parse_distiller(distiller: Any) -> tuple[nn.Module, str | None]:
    """The KD loss and the recorded module name from an MMRazor ``ConfigurableDistiller`` dict.

    Accepted: None (KLDivergence, tau=1, on the network outputs), a loss config dict, a loss
    module, or ``dict(type='ConfigurableDistiller', teacher_recorders=..., distill_losses=...)``.
    """
    source = None
    loss_cfg: Any = dict(type='KLDivergence', tau=1.0, loss_weight=1.0)
    if isinstance(distiller, nn.Module):
        return distiller, None
    if isinstance(distiller, Mapping):
        if 'distill_losses' in distiller:
            losses = dict(distiller['distill_losses'])
            if len(losses) != 1:
                raise ValueError(f'in-place distillation takes one distill loss, got '
                                 f'{sorted(losses)}')
            loss_cfg = next(iter(losses.values()))
            recorders = dict(distiller.get('teacher_recorders') or {})
            if recorders:
                source = next(iter(recorders.values())).get('source')
        else:
            loss_cfg = distiller
    elif distiller is not None:
        raise TypeError(f'distiller must be None, a config dict or a loss module, got '
                        f'{type(distiller).__name__}')
    loss_cfg = dict(loss_cfg)
    if loss_cfg.get('type') == 'KLDivergence' and 'KLDivergence' not in MODELS:
        loss_cfg.pop('type')
        loss_cfg.pop('reduction', None)
        return InplaceDistillLoss(**loss_cfg), source
    return MODELS.build(loss_cfg), source


class SandwichAlgorithm(NASAlgorithm):
    """Sandwich-rule training with in-place KD (see the module docstring).

    Args:
        architecture, mutator, norm_training, data_preprocessor, init_cfg, loss_fn: see
            :class:`NASAlgorithm`. The mutator needs ``max_choices`` / ``min_choices``.
        distiller: the KD loss: None (KL, tau 1, on the network outputs), a loss config
            (``dict(type='KLDivergence', tau=1)``) or MMRazor's ``ConfigurableDistiller`` dict,
            whose first teacher recorder ``source`` (e.g. ``'head.fc'``) names the module whose
            output is distilled.
        num_random_samples: random subnets per step besides max and min.

    Attributes:
        sample_kinds: ``['max', 'min', 'random0', ...]``, the order of one step.
    """

    def __init__(self, architecture: Any, mutator: Any = None, distiller: Any = None,
                 norm_training: bool = False, num_random_samples: int = 2,
                 data_preprocessor: Any = None, init_cfg: Mapping[str, Any] | None = None,
                 loss_fn: Any = None) -> None:
        super().__init__(architecture, mutator, norm_training, data_preprocessor, init_cfg,
                         loss_fn)
        if not isinstance(num_random_samples, int) or num_random_samples < 0:
            raise ValueError(f'num_random_samples must be an int >= 0, got '
                             f'{num_random_samples!r}')
        self.num_random_samples = num_random_samples
        self.sample_kinds = ['max', 'min'] + [f'random{i}' for i in range(num_random_samples)]
        self.distill_loss, self.distill_source = _parse_distiller(distiller)
        if self.distill_source is None and self._arch_takes_mode():
            head_fc = 'head.fc'
            if head_fc in dict(self.architecture.named_modules()):
                self.distill_source = head_fc
            else:
                raise ValueError('a mode-aware architecture needs a distiller naming the '
                                 "module to distill (teacher_recorders source, e.g. 'head.fc')")

    # ------------------------------------------------------------ forwards
    def _run(self, inputs: Any, data_samples: Any, with_loss: bool
             ) -> tuple[torch.Tensor, Any]:
        """(outputs to distil, losses dict or None) of the subnet currently set."""
        if self.distill_source is None:  # plain architecture: its output is the logits
            out = self.architecture(inputs)
            return out, ({'loss': self.loss_fn(out, data_samples)} if with_loss else None)
        record: list[torch.Tensor] = []
        module = self.architecture.get_submodule(self.distill_source)
        handle = module.register_forward_hook(lambda m, i, o: record.append(o))
        try:
            losses = self._call_arch(inputs, data_samples, 'loss' if with_loss else 'tensor')
        finally:
            handle.remove()
        return record[-1], (losses if with_loss else None)

    def _set_kind(self, kind: str) -> None:
        if kind == 'max':
            self.mutator.set_choices(self.mutator.max_choices)
        elif kind == 'min':
            self.mutator.set_choices(self.mutator.min_choices)
        else:
            self.mutator.set_choices(self.mutator.sample_choices())

    def before_subnet(self, kind: str) -> None:
        """Hook run after a subnet is set (BigNAS sets drop-path here)."""

    def train_step(self, data: Any, optimizer: Any) -> dict[str, float]:
        """Max, min and random subnets on one batch; gradients accumulate; one optimizer step.

        ``optimizer``: a torch optimizer or an OptimWrapper (``backward`` / ``step`` /
        ``zero_grad``). Returns ``{'max_subnet.loss': ..., 'min_subnet.loss_kd': ...}``.
        """
        batch = self._preprocess(data, training=True)
        inputs, samples = batch['inputs'], batch['data_samples']
        optimizer.zero_grad()
        log: dict[str, float] = {}
        teacher = None
        for kind in self.sample_kinds:
            self._set_kind(kind)
            self.before_subnet(kind)
            if kind == 'max':
                out, losses = self._run(inputs, samples, with_loss=True)
                teacher = out.detach()
            else:
                out, _ = self._run(inputs, samples, with_loss=False)
                losses = {'loss_kd': self.distill_loss(out, teacher)}
            total, sub_log = self.parse_losses(losses)
            accumulate_grad(optimizer, total)
            log.update({f'{kind}_subnet.{k}': v for k, v in sub_log.items()})
        optimizer.step()
        return log
