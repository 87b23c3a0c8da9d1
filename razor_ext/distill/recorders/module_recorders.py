"""ModuleOutputsRecorder and ModuleInputsRecorder: forward hooks on a named submodule."""
from __future__ import annotations

from typing import Any

from torch import nn

from razor_ext.distill.recorders.base_recorder import BaseRecorder
from razor_ext.registry import MODELS


@MODELS.register_module()
class ModuleOutputsRecorder(BaseRecorder):
    """Records the outputs of submodule ``source`` (e.g. ``'layer3.1.conv2'``), one per call.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
        >>> rec = ModuleOutputsRecorder('0'); rec.initialize(model)
        >>> with rec:
        ...     _ = model(torch.ones(1, 2))
        >>> rec.get_record_data().shape
        torch.Size([1, 3])
    """

    _empty_source_ok = True

    def prepare_from_model(self, model: nn.Module | None = None) -> None:
        if model is None:
            raise ValueError('model must be given to initialize a module recorder')
        try:
            module = model.get_submodule(self.source)
        except AttributeError:
            raise ValueError(f'source {self.source!r} is not a submodule of '
                             f'{type(model).__name__}') from None
        self._handle = module.register_forward_hook(self._hook, with_kwargs=True)

    def _hook(self, module: nn.Module, inputs: tuple[Any, ...], kwargs: dict[str, Any],
              outputs: Any) -> None:
        if self._recording:
            self.data_buffer.append(outputs)


@MODELS.register_module()
class ModuleInputsRecorder(ModuleOutputsRecorder):
    """Records the inputs (a tuple) of submodule ``source`` (``''``: the model itself), one per
    call: the positional arguments, then the keyword ones in call order (so ``data_idx=1`` is
    ``data_samples`` whether the model was called ``m(x, samples)`` or ``m(x,
    data_samples=samples)``).

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
        >>> rec = ModuleInputsRecorder('1'); rec.initialize(model)
        >>> with rec:
        ...     _ = model(torch.ones(1, 2))
        >>> rec.get_record_data(data_idx=0).shape
        torch.Size([1, 3])
    """

    def _hook(self, module: nn.Module, inputs: tuple[Any, ...], kwargs: dict[str, Any],
              outputs: Any) -> None:
        if self._recording:
            self.data_buffer.append(tuple(inputs) + tuple(kwargs.values()))
