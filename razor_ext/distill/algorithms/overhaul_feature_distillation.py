"""OverhaulFeatureDistillation and its OFDDistiller (margin ReLU from the teacher's BN)."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.distill.algorithms.single_teacher_distill import SingleTeacherDistill
from razor_ext.distill.connectors import OFDTeacherConnector
from razor_ext.distill.configurable_distiller import ConfigurableDistiller
from razor_ext.distill.losses import OFDLoss
from razor_ext.registry import MODELS


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def margin_from_bn(bn: nn.modules.batchnorm._BatchNorm) -> Tensor:
    """Per-channel expectation of the negative part of a pre-ReLU feature ``N(beta, gamma^2)``
    (``-3|gamma|`` where that part has probability <= 0.001), shape ``(1, C, 1, 1)``.

    Example:
        >>> bn = nn.BatchNorm2d(1)  # gamma 1, beta 0: E[x | x < 0] = -sqrt(2 / pi)
        >>> round(margin_from_bn(bn).item(), 4)
        -0.7979
    """
    margins = []
    for gamma, beta in zip(bn.weight.detach().tolist(), bn.bias.detach().tolist()):
        s = abs(gamma)
        p = _normal_cdf(-beta / s) if s > 0 else 0.0
        if p > 0.001:
            margins.append(-s * math.exp(-(beta / s) ** 2 / 2) / math.sqrt(2 * math.pi) / p + beta)
        else:
            margins.append(-3 * s)
    return torch.tensor(margins).view(1, -1, 1, 1)


@MODELS.register_module()
class OFDDistiller(ConfigurableDistiller):
    """A :class:`ConfigurableDistiller` that sets each ``OFDTeacherConnector`` feeding an
    ``OFDLoss`` from the BN layer its teacher recorder watches."""

    def init_ofd_connectors(self, teacher: nn.Module) -> None:
        for loss_name, mapping in self.loss_forward_mappings.items():
            if not isinstance(self.distill_losses[loss_name], OFDLoss):
                continue
            for arg, record in mapping.items():
                if record['from_student'] or not record.get('connector'):
                    continue
                source = self.teacher_recorders.get_recorder(record['recorder']).source
                bn = teacher.get_submodule(source)
                if not isinstance(bn, nn.modules.batchnorm._BatchNorm):
                    raise TypeError(f'OFD teacher recorder {record["recorder"]!r} must watch a '
                                    f'BatchNorm layer, but {source!r} is {type(bn).__name__}')
                connector = self.connectors[record['connector']]
                if not isinstance(connector, OFDTeacherConnector):
                    raise TypeError(f'connector {record["connector"]!r} of {loss_name}.{arg} must '
                                    f'be an OFDTeacherConnector, got {type(connector).__name__}')
                connector.init_margin(margin_from_bn(bn))


@MODELS.register_module()
class OverhaulFeatureDistillation(SingleTeacherDistill):
    """SingleTeacherDistill whose distiller is an :class:`OFDDistiller`; the teacher's
    margins are computed once at build time (after ``teacher_ckpt`` is loaded).

    Paper: Heo, Kim, Yun, Park, Kwak, Choi, "A Comprehensive Overhaul of Feature
    Distillation", ICCV 2019, https://arxiv.org/abs/1904.01866.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.distiller, OFDDistiller):
            raise TypeError(f'OverhaulFeatureDistillation needs an OFDDistiller, got '
                            f'{type(self.distiller).__name__}')
        self.distiller.init_ofd_connectors(self.teacher)
