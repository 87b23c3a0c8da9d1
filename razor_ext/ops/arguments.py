"""Python-side argument conversion for the ops: turn friendly inputs (lists of ints, int32
indices, tuples) into what the op schemas take, and reject the wrong types with a clear error.
Range and shape checks live in C++ (python/channel_args.h) so that every caller gets them."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def as_tensor_list(op: str, name: str, tensors: Sequence[Tensor]) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence):
        raise TypeError(f"{op}: {name} must be a list or tuple of tensors, got {type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name}[{i}] must be a torch.Tensor, got {type(t).__name__}")
        # Checked here, not only in C++: the dispatcher has no kernel for a sparse tensor and
        # would fail with a list of dispatch keys instead.
        if t.layout != torch.strided:
            raise TypeError(f"{op}: {name}[{i}] must be a dense (strided) tensor, got layout {t.layout}")
    return list(tensors)


def as_int_list(op: str, name: str, values: Sequence[int]) -> list[int]:
    if isinstance(values, (Tensor, str)) or not isinstance(values, Sequence):
        raise TypeError(f"{op}: {name} must be a list or tuple of ints, got {type(values).__name__}")
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{op}: {name}[{i}] must be an int, got {type(v).__name__}")
    return list(values)


def as_index(op: str, index: Tensor | Sequence[int], device: torch.device | None) -> Tensor:
    if isinstance(index, Tensor):
        if index.dtype in (torch.int32, torch.int16, torch.int8):
            return index.long()
        if index.dtype != torch.int64:
            raise TypeError(f"{op}: index must be an integer tensor, got dtype {index.dtype}")
        return index
    values = as_int_list(op, "index", index)
    return torch.tensor(values, dtype=torch.int64, device=device)


def check_one_device(op: str, tensors: Sequence[Tensor], index: Tensor | None = None) -> None:
    """The fake (meta) impls' version of the C++ device check, so that mixed devices never reach
    a kernel silently, with the messages of python/channel_args.h."""
    for i, t in enumerate(tensors):
        torch._check_value(
            t.device == tensors[0].device,
            lambda: f"{op}: tensors[{i}] is on {t.device} but tensors[0] is on "
            f"{tensors[0].device}; all tensors must be on one device",
        )
    if index is not None and tensors:
        torch._check_value(
            index.device == tensors[0].device,
            lambda: f"{op}: index is on {index.device} but tensors[0] is on {tensors[0].device}; "
            "index and tensors must be on one device",
        )


def as_int_pair(op: str, name: str, value: int | Sequence[int]) -> list[int]:
    """An int or a pair of ints (conv stride / padding / dilation) as a list of two ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value, value]
    values = as_int_list(op, name, value)
    if len(values) != 2:
        raise ValueError(f"{op}: {name} must be an int or 2 ints, got {len(values)} values")
    return values


def as_optional_int(op: str, name: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{op}: {name} must be an int or None, got {type(value).__name__}")
    return value


FLOAT_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def check_float_tensors(op: str, autocast: bool = False, **tensors: Tensor | None) -> None:
    """Dense floating tensors of the first one's dtype and device (None entries are skipped).

    With ``autocast=True`` (an op with autocast kernels, python/dynamic_autocast.cpp) the dtypes
    may differ while ``torch.autocast`` is on for the first tensor's device: the op casts them.
    """
    first_name, first = next(iter(tensors.items()))
    same_dtype = not (autocast and isinstance(first, Tensor)
                      and torch.is_autocast_enabled(first.device.type))
    for name, t in tensors.items():
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a torch.Tensor, got {type(t).__name__}")
        if t.layout != torch.strided:
            raise TypeError(f"{op}: {name} must be a dense (strided) tensor, got layout {t.layout}")
        if t.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{op}: {name} must be float32, float64, bfloat16 or float16, got {t.dtype}")
        if same_dtype and t.dtype != first.dtype:
            raise TypeError(f"{op}: {name} has dtype {t.dtype} but {first_name} has {first.dtype}")
        if t.device != first.device:
            raise ValueError(f"{op}: {name} is on {t.device} but {first_name} is on {first.device}")


def float32_under_autocast(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors, with bfloat16 / float16 ones cast to float32 while ``torch.autocast`` is on
    for the first one's device; unchanged otherwise.

    For the ops ATen runs in float32 under autocast (``kl_div``, ``log_softmax``, fake
    quantization): an autocast model hands them lower-precision tensors. The cast is an autograd
    op, so gradients come back in each tensor's own dtype.

    Example:
        >>> with torch.autocast("cpu", dtype=torch.bfloat16):
        ...     float32_under_autocast(torch.ones(2, dtype=torch.bfloat16))[0].dtype
        torch.float32
    """
    if not torch.is_autocast_enabled(tensors[0].device.type):
        return tensors
    low = (torch.bfloat16, torch.float16)
    return tuple(t.float() if t.dtype in low else t for t in tensors)

