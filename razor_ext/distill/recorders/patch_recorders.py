"""Function and method recorders: patch a dotted path while the recorder context is active."""
from __future__ import annotations

import functools
import inspect
from typing import Any

from razor_ext.distill.recorders.base_recorder import BaseRecorder
from razor_ext.distill.recorders.import_path import resolve_attribute
from razor_ext.registry import MODELS


class _PatchRecorder(BaseRecorder):
    """Replace ``source`` by a recording wrapper on enter, restore it on exit."""

    _skip_first_arg = False  # methods: do not record ``self``

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self._owner, self._name = resolve_attribute(source)  # fail at build time, not later
        # getattr_static keeps staticmethod/classmethod wrappers for a faithful restore.
        self._original = inspect.getattr_static(self._owner, self._name)
        if not callable(getattr(self._owner, self._name)):
            raise ValueError(f'source {source!r} is not callable')

    def _record(self, args: tuple[Any, ...], kwargs: dict[str, Any], outputs: Any) -> None:
        raise NotImplementedError

    def __enter__(self) -> _PatchRecorder:
        super().__enter__()
        target = getattr(self._owner, self._name)

        @functools.wraps(target)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            outputs = target(*args, **kwargs)
            if self._recording:
                self._record(args[1:] if self._skip_first_arg else args, kwargs, outputs)
            return outputs

        setattr(self._owner, self._name, wrapper)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(self._owner, self._name, self._original)
        super().__exit__(*exc)


@MODELS.register_module()
class FunctionOutputsRecorder(_PatchRecorder):
    """Records the outputs of function ``source`` (``'package.module.func'``), one per call.

    The function is looked up through its module at call time, so code must call it as
    ``module.func`` (``F.relu``), not through a name imported before the patch.

    Example:
        >>> import torch, torch.nn.functional as F
        >>> rec = FunctionOutputsRecorder('torch.nn.functional.relu'); rec.initialize()
        >>> with rec:
        ...     _ = F.relu(torch.tensor([-1.0, 2.0]))
        >>> rec.get_record_data().tolist()
        [0.0, 2.0]
    """

    def _record(self, args: tuple[Any, ...], kwargs: dict[str, Any], outputs: Any) -> None:
        self.data_buffer.append(outputs)


@MODELS.register_module()
class FunctionInputsRecorder(_PatchRecorder):
    """Records the inputs of function ``source`` as a list: positional arguments, then
    keyword arguments in the order of the function's signature.

    Example:
        >>> import torch, torch.nn.functional as F
        >>> rec = FunctionInputsRecorder('torch.nn.functional.relu'); rec.initialize()
        >>> with rec:
        ...     _ = F.relu(torch.tensor([-1.0]), inplace=False)
        >>> rec.get_record_data(data_idx=1)
        False
    """

    def _record(self, args: tuple[Any, ...], kwargs: dict[str, Any], outputs: Any) -> None:
        inputs = list(args)
        try:
            order = list(inspect.signature(getattr(self._original, '__func__', self._original))
                         .parameters)
        except (TypeError, ValueError):  # builtins without a signature
            order = []
        inputs.extend(kwargs[k] for k in order if k in kwargs)
        inputs.extend(v for k, v in kwargs.items() if k not in order)
        self.data_buffer.append(inputs)


@MODELS.register_module()
class MethodOutputsRecorder(FunctionOutputsRecorder):
    """Records the outputs of method ``source`` (``'package.module.Class.method'``) for every
    instance of the class, one record per call.

    Example:
        >>> import torch
        >>> rec = MethodOutputsRecorder('torch.nn.Linear.forward'); rec.initialize()
        >>> with rec:
        ...     _ = torch.nn.Linear(2, 4)(torch.ones(1, 2))
        >>> rec.get_record_data().shape
        torch.Size([1, 4])
    """

    _skip_first_arg = True


@MODELS.register_module()
class MethodInputsRecorder(FunctionInputsRecorder):
    """Records the inputs (without ``self``) of method ``source`` as a list.

    Example:
        >>> import torch
        >>> rec = MethodInputsRecorder('torch.nn.Linear.forward'); rec.initialize()
        >>> with rec:
        ...     _ = torch.nn.Linear(2, 4)(torch.ones(1, 2))
        >>> rec.get_record_data(data_idx=0).shape
        torch.Size([1, 2])
    """

    _skip_first_arg = True


