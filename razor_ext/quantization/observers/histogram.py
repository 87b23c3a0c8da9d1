"""``HistogramObserver``: a histogram of the data, and a clipping range chosen from it."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from razor_ext.quantization.functional import fake_quantize
from razor_ext.quantization.observers.base import BaseObserver, ObserverError, qparams_from_range
from razor_ext.registry import MODELS

__all__ = ['HistogramObserver']


@MODELS.register_module()
class HistogramObserver(BaseObserver):
    """Per-tensor histogram; the range is a percentile or the one of least quantization MSE.

    The histogram spans the running min/max in ``bins`` equal bins; when new data exceeds the span
    the old counts are re-binned (each old bin's count moves to the new bin holding its centre).

    Args:
        bins: histogram bins.
        method: ``'percentile'`` (clip to the ``percentile`` / ``100 - percentile`` quantiles)
            or ``'mse'`` (search ``num_candidates`` ranges shrunk from the full one, keep the one
            whose fake quantization of the histogram has the least squared error).
        percentile: for ``method='percentile'``, in (50, 100].
        num_candidates: for ``method='mse'``.

    Example:
        >>> obs = HistogramObserver(method='percentile', percentile=99.0, bins=1000)
        >>> _ = obs(torch.arange(1000.0))
        >>> lo, hi = obs.clip_range(); round(lo), round(hi)
        (10, 989)
    """

    def __init__(self, *args: Any, bins: int = 2048, method: str = 'mse', percentile: float = 99.99,
                 num_candidates: int = 100, **kwargs: Any) -> None:
        kwargs.pop('ch_axis', None)
        super().__init__(*args, **kwargs)
        if method not in ('mse', 'percentile'):
            raise ValueError(f"method must be 'mse' or 'percentile', got {method!r}")
        if not 50.0 < percentile <= 100.0:
            raise ValueError(f'percentile must be in (50, 100], got {percentile}')
        if bins < 2 or num_candidates < 1:
            raise ValueError(f'bins must be >= 2 and num_candidates >= 1, got {bins}, {num_candidates}')
        self.bins, self.method = int(bins), method
        self.percentile, self.num_candidates = float(percentile), int(num_candidates)
        self.register_buffer('histogram', torch.zeros(self.bins, dtype=torch.float64))

    def reset(self) -> None:
        super().reset()
        self.histogram.zero_()

    def _edges(self) -> Tensor:
        return torch.linspace(float(self.min_val), float(self.max_val), self.bins + 1,
                              dtype=torch.float64)

    def forward(self, x: Tensor) -> Tensor:
        lo, hi = self._batch_range(x)
        if not (torch.isfinite(lo) and torch.isfinite(hi)):
            raise ObserverError(f'observer of {self.module_name!r}: NaN/Inf in the data')
        data = x.detach().reshape(-1).double()
        if not self.observed:
            new_min, new_max = float(lo), float(hi)
        else:
            new_min, new_max = min(float(lo), float(self.min_val)), max(float(hi), float(self.max_val))
        if new_max == new_min:
            new_max = new_min + 1e-8  # one value: a tiny span keeps the bin maths finite
        if self.observed and (new_min, new_max) != (float(self.min_val), float(self.max_val)):
            centres = (self._edges()[:-1] + self._edges()[1:]) / 2
            old = self.histogram.clone()
            self.histogram.zero_()
            self._add(centres, old, new_min, new_max)
        self.min_val.fill_(new_min)
        self.max_val.fill_(new_max)
        self._add(data, torch.ones_like(data), new_min, new_max)
        return x

    def _add(self, values: Tensor, weights: Tensor, lo: float, hi: float) -> None:
        idx = ((values - lo) / (hi - lo) * self.bins).floor().clamp(0, self.bins - 1).long()
        self.histogram.index_add_(0, idx, weights.to(self.histogram))

    def clip_range(self) -> tuple[float, float]:
        """The ``(min, max)`` clipping range the qparams are computed from."""
        if not self.observed:
            raise ObserverError(f'observer of {self.module_name!r} has seen no data: calibrate first')
        edges = self._edges()
        if self.method == 'percentile':
            cdf = torch.cumsum(self.histogram, 0) / self.histogram.sum()
            tail = 1.0 - self.percentile / 100.0
            lo_bin = int(torch.searchsorted(cdf, torch.tensor([tail], dtype=cdf.dtype)))
            hi_bin = int(torch.searchsorted(cdf, torch.tensor([1.0 - tail], dtype=cdf.dtype)))
            return float(edges[min(lo_bin, self.bins - 1)]), float(edges[min(hi_bin + 1, self.bins)])
        return self._mse_range(edges)

    def _mse_range(self, edges: Tensor) -> tuple[float, float]:
        centres = ((edges[:-1] + edges[1:]) / 2).float()
        counts = self.histogram.float()
        full_lo, full_hi = float(self.min_val), float(self.max_val)
        best, best_err = (full_lo, full_hi), float('inf')
        for k in range(1, self.num_candidates + 1):
            t = k / self.num_candidates
            lo, hi = torch.tensor([full_lo * t]), torch.tensor([full_hi * t])
            scale, zp = qparams_from_range(lo, hi, self.quant_min, self.quant_max, self.symmetric,
                                           self.eps, self.module_name)
            q = fake_quantize(centres, scale, zp, self.quant_min, self.quant_max)
            err = float((counts * (centres - q) ** 2).sum())
            if err < best_err:
                best, best_err = (full_lo * t, full_hi * t), err
        return best

    def calculate_qparams(self) -> tuple[Tensor, Tensor]:
        lo, hi = self.clip_range()
        scale, zp = qparams_from_range(torch.tensor([lo]), torch.tensor([hi]), self.quant_min,
                                       self.quant_max, self.symmetric, self.eps, self.module_name)
        return scale.reshape(-1), zp.reshape(-1)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', bins={self.bins}, method={self.method!r}'
