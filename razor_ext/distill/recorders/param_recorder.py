"""ParameterRecorder: hands a parameter of the model to the losses (e.g. a weight prior)."""
from __future__ import annotations

from torch import nn

from razor_ext.distill.recorders.base_recorder import BaseRecorder
from razor_ext.registry import MODELS


@MODELS.register_module()
class ParameterRecorder(BaseRecorder):
    """Records the parameter named ``source`` (e.g. ``'fc.weight'``); the record is the live
    parameter, so it is kept across steps.

    Example:
        >>> import torch
        >>> rec = ParameterRecorder('weight'); rec.initialize(torch.nn.Linear(2, 3))
        >>> rec.get_record_data().shape
        torch.Size([3, 2])
    """

    def prepare_from_model(self, model: nn.Module | None = None) -> None:
        if model is None:
            raise ValueError('model must be given to initialize a ParameterRecorder')
        params = dict(model.named_parameters())
        if self.source not in params:
            raise ValueError(f'source {self.source!r} is not a parameter of '
                             f'{type(model).__name__}')
        self._data_buffer = [params[self.source]]

    def reset_data_buffer(self) -> None:
        """Keep the parameter: it is a reference, not per-step data."""
