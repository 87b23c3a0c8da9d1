"""``GPTQ``: the config-built form of :func:`gptq`, an algorithm wrapping an architecture."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torch import nn

from razor_ext.algorithm import BaseAlgorithm
from razor_ext.quantization.weight_only.gptq import gptq
from razor_ext.registry import MODELS


@MODELS.register_module()
class GPTQ(BaseAlgorithm):
    """Weight-only PTQ of ``architecture`` by GPTQ (or RTN); the settings are :func:`gptq`'s.

    Build it from a config, then call :meth:`calibrate` with calibration batches; afterwards the
    algorithm runs (``mode='tensor'`` / ``'predict'`` / ``'loss'``) on the quantized architecture.

    Example:
        >>> import torch
        >>> algo = MODELS.build(dict(type='GPTQ', architecture=nn.Sequential(nn.Linear(64, 8)),
        ...                          bits=4, group_size=32))
        >>> _ = algo.calibrate([torch.randn(16, 64)])
        >>> type(algo.architecture[0]).__name__, algo(torch.randn(2, 64)).shape
        ('WeightOnlyQuantLinear', torch.Size([2, 8]))
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any], bits: int = 4,
                 group_size: int = 128, sym: bool = True, act_order: bool = False,
                 percdamp: float = 0.01, blocksize: int = 128, layers: list[str] | None = None,
                 method: str = "gptq", **kwargs: Any) -> None:
        super().__init__(architecture, **kwargs)
        self.gptq_cfg = dict(bits=bits, group_size=group_size, sym=sym, act_order=act_order,
                             percdamp=percdamp, blocksize=blocksize, layers=layers, method=method)

    def calibrate(self, calib_batches: Iterable[Any] | None = None,
                  progress: bool | None = None) -> nn.Module:
        """Quantize the architecture in place from ``calib_batches``; returns the architecture."""
        return gptq(self.architecture, calib_batches, progress=progress, **self.gptq_cfg)
