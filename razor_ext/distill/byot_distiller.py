"""``BYOTDistiller``: the ConfigurableDistiller of BYOT self-distillation, whose teacher records
(the network's own deepest feature, logits and labels) are detached."""
from __future__ import annotations

from typing import Any

from razor_ext.distill.configurable_distiller import ConfigurableDistiller
from razor_ext.registry import MODELS


@MODELS.register_module()
class BYOTDistiller(ConfigurableDistiller):
    """As :class:`ConfigurableDistiller`, but every teacher record is detached after its
    connector and index: in self-distillation the "teacher" is the same network's deepest layer,
    which the shallow auxiliary heads must not pull towards themselves.

    Example:
        >>> import torch
        >>> d = BYOTDistiller(teacher_recorders=dict(o=dict(type='ModuleOutputs', source='1')))
        >>> m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
        >>> d.prepare_from_teacher(m)
        >>> with d.teacher_recorders:
        ...     _ = m(torch.randn(1, 2))
        >>> d.get_record('o', from_student=False).requires_grad
        False
    """

    def get_record(self, recorder: str, from_student: bool, record_idx: int = 0,
                   data_idx: int | None = None, connector: str | None = None,
                   connector_idx: int | None = None) -> Any:
        data = super().get_record(recorder, from_student, record_idx, data_idx, connector,
                                  connector_idx)
        return data if from_student else data.detach()


__all__ = ['BYOTDistiller']
