"""SelfDistill: the network teaches itself (BYOT: deep layers teach shallow ones)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from razor_ext.algorithm.base_algorithm import BaseAlgorithm, LossDict, _build_module
from razor_ext.distill.algorithms.single_teacher_distill import add_prefix
from razor_ext.distill.configurable_distiller import ConfigurableDistiller
from razor_ext.registry import MODELS


@MODELS.register_module()
class SelfDistill(BaseAlgorithm):
    """Self-distillation: student and teacher recorders sit in the same model and one
    forward fills both (e.g. the final logits teach auxiliary heads on shallow stages).

    Paper: Zhang et al., "Be Your Own Teacher: Improve the Performance of Convolutional Neural
    Networks via Self Distillation", ICCV 2019, https://arxiv.org/abs/1905.08094.

    Args:
        architecture: the model (module or config).
        distiller: a :class:`ConfigurableDistiller` or its config; its teacher recorders refer
            to modules of the same model (use ``teacher_detach`` in the losses, or recorders
            of detached outputs, so the deep layers are not pulled towards the shallow ones).
        student_trainable, calculate_student_loss: as in :class:`SingleTeacherDistill`.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 3))
        >>> algo = SelfDistill(model, dict(type='ConfigurableDistiller',
        ...     student_recorders=dict(h=dict(type='ModuleOutputs', source='0')),
        ...     teacher_recorders=dict(o=dict(type='ModuleOutputs', source='1')),
        ...     connectors=dict(head=dict(type='LinearConnector', in_channel=4, out_channel=3)),
        ...     distill_losses=dict(loss_self=dict(type='KLDivergence', tau=2.0)),
        ...     loss_forward_mappings=dict(loss_self=dict(
        ...         preds_S=dict(recorder='h', from_student=True, connector='head'),
        ...         preds_T=dict(recorder='o', from_student=False)))))
        >>> sorted(algo.loss(torch.randn(2, 4), torch.tensor([0, 1])))
        ['distill.loss_self', 'student.loss']
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any],
                 distiller: ConfigurableDistiller | Mapping[str, Any],
                 student_trainable: bool = True, calculate_student_loss: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(architecture, **kwargs)
        self.distiller = _build_module(distiller, 'distiller')
        if not isinstance(self.distiller, ConfigurableDistiller):
            raise TypeError(f'distiller must be a ConfigurableDistiller, got '
                            f'{type(self.distiller).__name__}')
        self.student_trainable = student_trainable
        self.calculate_student_loss = calculate_student_loss
        self.distiller.prepare_from_student(self.student)
        self.distiller.prepare_from_teacher(self.student)

    @property
    def student(self) -> nn.Module:
        return self.architecture

    def _run_for_records(self, inputs: Any, data_samples: Any) -> None:
        # As MMRazor: a mode-aware model runs in 'loss' mode even when its loss is not used, so
        # recorders on loss modules (BYOT records the labels at ``head.loss_module``) fill.
        if self._arch_takes_mode():
            self._call_arch(inputs, data_samples, 'loss')
        else:
            self._forward(inputs, data_samples)

    def loss(self, inputs: Any, data_samples: Any = None) -> LossDict:
        losses: dict[str, Any] = {}
        self.distiller.set_deliveries_override(False)
        with self.distiller.student_recorders, self.distiller.teacher_recorders, \
                self.distiller.deliveries:
            if self.calculate_student_loss:
                losses.update(add_prefix(super().loss(inputs, data_samples), 'student'))
            elif self.student_trainable:
                self._run_for_records(inputs, data_samples)
            else:
                with torch.no_grad():
                    self._run_for_records(inputs, data_samples)
        losses.update(add_prefix(self.distiller.compute_distill_losses(), 'distill'))
        return losses
