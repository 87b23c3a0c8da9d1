"""RecorderManager: builds named recorders and enters/exits them together."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from razor_ext.distill.recorders.base_recorder import BaseRecorder
from razor_ext.distill.recorders.build_errors import with_context
from razor_ext.registry import MODELS


def _recorder_type(name: str) -> str:
    # MMRazor configs say type='ModuleOutputs'; the classes end in 'Recorder'.
    return name if name.endswith('Recorder') else name + 'Recorder'


class RecorderManager:
    """Named recorders built from configs, used as one context manager.

    Args:
        recorders: ``{name: dict(type='ModuleOutputs', source='layer1')}``; the type may
            also be given with its ``Recorder`` suffix or as a recorder instance.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3))
        >>> manager = RecorderManager({'fc': dict(type='ModuleOutputs', source='0')})
        >>> manager.initialize(model)
        >>> with manager:
        ...     _ = model(torch.ones(1, 2))
        >>> manager.get_recorder('fc').get_record_data().shape
        torch.Size([1, 3])
    """

    def __init__(self, recorders: Mapping[str, Any] | None = None) -> None:
        self._recorders: dict[str, BaseRecorder] = {}
        for name, cfg in (recorders or {}).items():
            if isinstance(cfg, BaseRecorder):
                self._recorders[name] = cfg
                continue
            if not isinstance(cfg, Mapping) or not isinstance(cfg.get('type'), str):
                raise TypeError(f'recorder {name!r} must be a config dict with a str type, '
                                f'got {cfg!r}')
            cfg = dict(cfg, type=_recorder_type(cfg['type']))
            try:
                self._recorders[name] = MODELS.build(cfg)
            except Exception as err:
                raise with_context(err, f'recorder {name!r}') from err

    @property
    def recorders(self) -> dict[str, BaseRecorder]:
        return self._recorders

    def get_recorder(self, recorder: str) -> BaseRecorder:
        if recorder not in self._recorders:
            raise KeyError(f'unknown recorder {recorder!r}; known: {sorted(self._recorders)}')
        return self._recorders[recorder]

    def initialize(self, model: nn.Module) -> None:
        for recorder in self._recorders.values():
            recorder.initialize(model)

    def reset(self) -> None:
        """Drop all records (after the losses used them), so no step's tensors outlive it."""
        for recorder in self._recorders.values():
            recorder.reset_data_buffer()

    def map_records(self, fn: Callable[[Any], Any]) -> None:
        """Replace every record by ``fn(record)`` (e.g. move a teacher's records to the
        student's device and dtype)."""
        for recorder in self._recorders.values():
            recorder._data_buffer = [fn(r) for r in recorder.data_buffer]

    def __enter__(self) -> RecorderManager:
        entered: list[BaseRecorder] = []
        try:
            for recorder in self._recorders.values():
                recorder.__enter__()
                entered.append(recorder)
        except BaseException:
            for recorder in reversed(entered):
                recorder.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for recorder in reversed(list(self._recorders.values())):
            recorder.__exit__(*exc)
