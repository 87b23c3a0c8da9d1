"""``BaseObserver``: records statistics of a tensor and turns them into ``(scale, zero_point)``."""
from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ['BaseObserver', 'ObserverError', 'qparams_from_range', 'ResizingBuffersMixin']


class ObserverError(ValueError):
    """An observer cannot give valid quantization parameters (no data, NaN/Inf/zero scale)."""


class ResizingBuffersMixin:
    """Loading a state dict may resize buffers (per-channel qparams are sized by the first data)."""

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any,
                              **kwargs: Any) -> None:
        for name, buf in list(self._buffers.items()):  # type: ignore[attr-defined]
            key = prefix + name
            if buf is not None and key in state_dict and state_dict[key].shape != buf.shape:
                self._buffers[name] = torch.empty_like(state_dict[key], device=buf.device)  # type: ignore[attr-defined]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)  # type: ignore[misc]


def qparams_from_range(min_val: Tensor, max_val: Tensor, quant_min: int, quant_max: int,
                       symmetric: bool, eps: float = torch.finfo(torch.float32).eps,
                       name: str = '?') -> tuple[Tensor, Tensor]:
    """Scale and zero point that cover ``[min_val, max_val]`` (widened to hold 0).

    Affine: ``s = (max - min) / (qmax - qmin)``, ``z = qmin - round(min / s)``. Symmetric:
    ``s = max|.| / ((qmax - qmin) / 2)``, ``z = 0`` (signed) or ``(qmin + qmax + 1) // 2``
    (unsigned), as torch.ao's observers. A zero range (all-zero data) gets ``s = eps`` as in
    torch.ao; a NaN or infinite range raises :class:`ObserverError` naming ``name``.

    Example:
        >>> s, z = qparams_from_range(torch.tensor([-1.0]), torch.tensor([3.0]), 0, 255, False)
        >>> round(s.item(), 6), z.item()
        (0.015686, 64)
    """
    if not (torch.isfinite(min_val).all() and torch.isfinite(max_val).all()):
        raise ObserverError(f'observer of {name!r}: the observed range is not finite (min '
                            f'{min_val.min().item()}, max {max_val.max().item()}): NaN/Inf in the '
                            f'data or no data observed; the scale would be NaN/Inf')
    min_neg = torch.clamp(min_val, max=0.0).float()
    max_pos = torch.clamp(max_val, min=0.0).float()
    if symmetric:
        max_abs = torch.maximum(-min_neg, max_pos)
        scale = max_abs / ((quant_max - quant_min) / 2)
        zp_value = 0 if quant_min < 0 else (quant_min + quant_max + 1) // 2
        scale = torch.clamp(scale, min=eps)
        zero_point = torch.full_like(scale, zp_value, dtype=torch.int32)
    else:
        scale = torch.clamp((max_pos - min_neg) / (quant_max - quant_min), min=eps)
        zero_point = (quant_min - torch.round(min_neg / scale)).clamp(quant_min, quant_max)
        zero_point = zero_point.to(torch.int32)
    if not torch.isfinite(scale).all() or (scale <= 0).any():
        raise ObserverError(f'observer of {name!r}: scale {scale.tolist()} is not finite and positive')
    return scale, zero_point


class BaseObserver(ResizingBuffersMixin, nn.Module):
    """Records statistics in ``forward`` (returns its input unchanged) and gives qparams.

    Args:
        quant_min, quant_max: the integer range the qparams are for.
        symmetric: symmetric (zero point fixed) or affine range.
        ch_axis: channel dim for per-channel statistics, or None for per-tensor.
        eps: smallest scale.

    ``module_name`` (set by the quantizer) names the observed module in errors.
    """

    def __init__(self, quant_min: int = 0, quant_max: int = 255, symmetric: bool = False,
                 ch_axis: int | None = None, eps: float = torch.finfo(torch.float32).eps) -> None:
        super().__init__()
        if not quant_min < quant_max:
            raise ValueError(f'quant_min must be < quant_max, got {quant_min}, {quant_max}')
        self.quant_min, self.quant_max = int(quant_min), int(quant_max)
        self.symmetric, self.ch_axis, self.eps = bool(symmetric), ch_axis, float(eps)
        self.module_name = '?'
        self.register_buffer('min_val', torch.tensor(float('inf')))
        self.register_buffer('max_val', torch.tensor(float('-inf')))

    def reset(self) -> None:
        """Forget everything observed."""
        self.min_val = torch.tensor(float('inf'), device=self.min_val.device)
        self.max_val = torch.tensor(float('-inf'), device=self.max_val.device)

    @property
    def observed(self) -> bool:
        """Whether any data has been seen."""
        return bool(torch.isfinite(self.min_val).all())

    def sync_across_ranks(self) -> None:
        """In a ``torch.distributed`` job, make ``min_val``/``max_val`` the minimum/maximum over
        all ranks (in place), so every rank derives the same qparams from all ranks' data; a
        no-op in a single process. The data-parallel engine calls it after every step.

        Example:
            >>> from razor_ext.quantization.observers import MinMaxObserver
            >>> obs = MinMaxObserver(); _ = obs(torch.tensor([-1.0, 2.0])); obs.sync_across_ranks()
            >>> obs.min_val.item(), obs.max_val.item()
            (-1.0, 2.0)
        """
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        dist.all_reduce(self.min_val, op=dist.ReduceOp.MIN)
        dist.all_reduce(self.max_val, op=dist.ReduceOp.MAX)

    def _batch_range(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.numel() == 0:
            raise ObserverError(f'observer of {self.module_name!r}: empty tensor')
        x = x.detach()
        if self.ch_axis is None:
            return torch.aminmax(x)
        axis = self.ch_axis % x.dim()
        flat = x.transpose(0, axis).reshape(x.shape[axis], -1)
        return torch.aminmax(flat, dim=1)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D401
        """Record ``x``'s statistics; return ``x``."""
        raise NotImplementedError

    def calculate_qparams(self) -> tuple[Tensor, Tensor]:
        """``(scale, zero_point)``: float32 and int32 tensors, ``(1,)`` or ``(C,)``."""
        if not self.observed:
            raise ObserverError(f'observer of {self.module_name!r} has seen no data: calibrate first')
        scale, zp = qparams_from_range(self.min_val, self.max_val, self.quant_min, self.quant_max,
                                       self.symmetric, self.eps, self.module_name)
        return scale.reshape(-1), zp.reshape(-1)

    def extra_repr(self) -> str:
        return (f'quant_min={self.quant_min}, quant_max={self.quant_max}, '
                f'symmetric={self.symmetric}, ch_axis={self.ch_axis}')
