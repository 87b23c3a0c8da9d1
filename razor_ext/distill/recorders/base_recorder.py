"""BaseRecorder: collects intermediate results of a model run inside a ``with`` block."""
from __future__ import annotations

from typing import Any

from torch import nn


class BaseRecorder:
    """Records data produced while its context is active.

    ``with recorder:`` clears the previous records and starts recording; leaving the block
    stops it. Nothing is recorded outside the block, so evaluation runs do not accumulate
    tensors (the buffer holds at most one step).

    Args:
        source: what to record (a module name, a dotted function/method path, a parameter name).
    """

    # Module recorders take '' for the model itself (MMRazor's CRD records the model's inputs).
    _empty_source_ok = False

    def __init__(self, source: str) -> None:
        if not isinstance(source, str) or not (source or self._empty_source_ok):
            raise ValueError(f'source must be a non-empty str, got {source!r}')
        self._source = source
        self._data_buffer: list[Any] = []
        self._initialized = False
        self._recording = False

    def __getstate__(self) -> dict[str, Any]:
        # copy.deepcopy of a model carrying this recorder's forward hook copies the recorder too.
        # torch's hook handles cannot be copied (their weak references are gone), and the copy
        # has nothing to record: it gets an empty, idle recorder without a handle.
        state = dict(self.__dict__)
        state.pop('_handle', None)
        state['_data_buffer'], state['_recording'] = [], False
        return state

    @property
    def source(self) -> str:
        return self._source

    @property
    def data_buffer(self) -> list[Any]:
        return self._data_buffer

    def prepare_from_model(self, model: nn.Module | None = None) -> None:
        """Attach to ``model`` (hooks); subclasses override."""

    def initialize(self, model: nn.Module | None = None) -> None:
        self.prepare_from_model(model)
        self._initialized = True

    def get_record_data(self, record_idx: int = 0, data_idx: int | None = None) -> Any:
        """The ``record_idx``-th record (one per call of the source), or its ``data_idx`` item."""
        if not 0 <= record_idx < len(self._data_buffer):
            raise IndexError(f'record_idx {record_idx} is out of range: recorder of '
                             f'{self._source!r} holds {len(self._data_buffer)} records (did the '
                             f'source run inside the recorder context?)')
        record = self._data_buffer[record_idx]
        if data_idx is None:
            return record
        if not isinstance(record, (list, tuple)):
            raise TypeError(f'data_idx needs a list/tuple record, but {self._source!r} recorded '
                            f'a {type(record).__name__}')
        if not 0 <= data_idx < len(record):
            raise IndexError(f'data_idx {data_idx} is out of range for a record of length '
                             f'{len(record)} from {self._source!r}')
        return record[data_idx]

    def reset_data_buffer(self) -> None:
        self._data_buffer = []

    def __enter__(self) -> BaseRecorder:
        if not self._initialized:
            raise RuntimeError(f'recorder of {self._source!r} is not initialized: call '
                               f'initialize(model) first (RecorderManager does it)')
        self.reset_data_buffer()
        self._recording = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._recording = False
