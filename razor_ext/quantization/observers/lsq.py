"""LSQ initialisation: ``scale = 2 * mean|x| / sqrt(quant_max)`` (Esser et al., 2020)."""
from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from razor_ext.quantization.observers.base import ObserverError
from razor_ext.quantization.observers.minmax import MinMaxObserver
from razor_ext.registry import MODELS

__all__ = ['LSQObserver', 'LSQPerChannelObserver']


@MODELS.register_module()
class LSQObserver(MinMaxObserver):
    """Initial LSQ scale from the mean magnitude (last batch); affine zero point (LSQ+) from min/max.

    Example:
        >>> obs = LSQObserver(quant_min=-8, quant_max=7, symmetric=True)
        >>> _ = obs(torch.tensor([1.0, -3.0]))
        >>> round(obs.calculate_qparams()[0].item(), 4)  # 2 * 2 / sqrt(7)
        1.5119
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_buffer('tensor_norm', torch.tensor(float('nan')))

    def forward(self, x: Tensor) -> Tensor:
        super().forward(x)
        x = x.detach().float()
        if self.ch_axis is None:
            self.tensor_norm = x.abs().mean().reshape(())
        else:
            axis = self.ch_axis % x.dim()
            self.tensor_norm = x.transpose(0, axis).reshape(x.shape[axis], -1).abs().mean(1)
        return x

    def sync_across_ranks(self) -> None:
        """Min/max over all ranks, and the mean magnitude averaged over the ranks (each rank's
        last batch has the same size in a data-parallel run)."""
        super().sync_across_ranks()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(self.tensor_norm)
            self.tensor_norm.div_(dist.get_world_size())

    def calculate_qparams(self) -> tuple[Tensor, Tensor]:
        if not self.observed:
            raise ObserverError(f'observer of {self.module_name!r} has seen no data: calibrate first')
        scale = (2 * self.tensor_norm / self.quant_max ** 0.5).reshape(-1)
        if not torch.isfinite(scale).all() or (scale <= 0).any():
            raise ObserverError(f'observer of {self.module_name!r}: LSQ scale {scale.tolist()} is not '
                                f'finite and positive (all-zero or NaN/Inf data)')
        if self.symmetric:
            zp_value = 0 if self.quant_min < 0 else (self.quant_min + self.quant_max + 1) // 2
            zp = torch.full_like(scale, zp_value, dtype=torch.int32)
        else:
            min_neg = torch.clamp(self.min_val, max=0.0).reshape(-1)
            zp = (self.quant_min - torch.round(min_neg / scale)).clamp(self.quant_min, self.quant_max)
            zp = zp.to(torch.int32)
        return scale, zp


@MODELS.register_module()
class LSQPerChannelObserver(LSQObserver):
    """:class:`LSQObserver` per channel along ``ch_axis`` (default 0).

    Example:
        >>> obs = LSQPerChannelObserver(quant_min=-8, quant_max=7, symmetric=True)
        >>> _ = obs(torch.tensor([[7 ** 0.5, -(7 ** 0.5)], [1.0, 1.0]]))
        >>> [round(v, 4) for v in obs.calculate_qparams()[0].tolist()]  # 2 * mean|row| / sqrt(7)
        [2.0, 0.7559]
    """

    def __init__(self, *args: Any, ch_axis: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, ch_axis=ch_axis, **kwargs)
