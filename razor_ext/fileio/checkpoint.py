"""Checkpoint files that every command writes and every place that takes a checkpoint reads.

A checkpoint holds plain data only: tensors, and dicts / lists / tuples of numbers, strings,
booleans and None. So it loads with ``torch.load(weights_only=True)`` (no code runs while
reading it), and :func:`save_checkpoint` refuses anything else, naming where it sits.

Older files (written before this format) hold NumPy's RNG state as a NumPy array, which
``weights_only=True`` refuses. :func:`load_checkpoint` reads them with an explicit fallback:
``weights_only=True`` plus an allow-list of exactly the NumPy globals that rebuild an array
(``numpy._core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype`` and the dtype
classes). Anything beyond that needs ``trusted=True`` (``weights_only=False``, which can run
code from the file: only for files you made yourself).

Example:
    >>> import pathlib, tempfile, torch
    >>> p = pathlib.Path(tempfile.mkdtemp()) / 'c.pth'
    >>> _ = save_checkpoint({'state_dict': {'w': torch.ones(2)}, 'meta': {'epoch': 1}}, p)
    >>> load_checkpoint(p)['meta']
    {'epoch': 1}
    >>> save_checkpoint({'meta': {'bad': object()}}, p)
    Traceback (most recent call last):
    ...
    TypeError: checkpoint entry meta.bad is a object: a checkpoint holds tensors, numbers, strings, booleans, None and dicts/lists/tuples of them
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from razor_ext.fileio.atomic_write import atomic_path

__all__ = ['CHECKPOINT_FORMAT', 'CheckpointError', 'check_plain', 'load_checkpoint',
           'save_checkpoint']

CHECKPOINT_FORMAT = 'razor_ext.checkpoint/1'
_PLAIN = (bool, int, float, str, type(None), torch.Tensor, torch.dtype, torch.device, torch.Size)


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit: the message is one line."""


def check_plain(obj: Any, where: str = '') -> None:
    """Raise ``TypeError`` naming the first entry of ``obj`` that ``weights_only`` loading refuses.

    Example:
        >>> check_plain({'a': [1, 2.0, 'x', None, (True,)]})
    """
    if isinstance(obj, _PLAIN):
        return
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f'checkpoint key {key!r} under {where or "the top"} is a '
                                f'{type(key).__name__}: keys are strings or ints')
            check_plain(value, f'{where}.{key}' if where else str(key))
        return
    if isinstance(obj, (list, tuple)) and type(obj) in (list, tuple):
        for i, value in enumerate(obj):
            check_plain(value, f'{where}[{i}]')
        return
    raise TypeError(f'checkpoint entry {where or "(top)"} is a {type(obj).__name__}: a checkpoint '
                    f'holds tensors, numbers, strings, booleans, None and dicts/lists/tuples of them')


def save_checkpoint(payload: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Check that ``payload`` is plain (:func:`check_plain`) and write it atomically to ``path``.

    Returns:
        the path written.
    """
    if not isinstance(payload, Mapping):
        raise TypeError(f'a checkpoint is a dict, got {type(payload).__name__}')
    check_plain(payload)
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(dict(payload), tmp)
    return path


def _numpy_array_globals() -> list[Any]:
    """The globals pickle needs to rebuild a NumPy array (NumPy 1 and 2 spellings)."""
    import numpy as np

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    names = [_reconstruct, np.ndarray, np.dtype]
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        names += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return names


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = 'cpu', *,
                    trusted: bool = False) -> Any:
    """Read a checkpoint with ``weights_only=True`` (the legacy NumPy fallback is described in
    the module docstring); ``trusted=True`` reads anything (``weights_only=False``).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file holds objects ``weights_only`` refuses (one line, naming them).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    if trusted:
        return torch.load(path, map_location=map_location, weights_only=False)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        pass
    try:
        with torch.serialization.safe_globals(_numpy_array_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:  # noqa: BLE001 - only for the message
            unsafe = []
        raise CheckpointError(
            f'checkpoint {path} holds objects that weights_only loading refuses '
            f'({", ".join(unsafe[:5]) or "unknown globals"}); if you made this file yourself, '
            f'read it with load_checkpoint(path, trusted=True)') from None
