"""``SparseGPT``: the config-built form of :func:`sparse_gpt`, an algorithm wrapping an architecture."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torch import nn

from razor_ext.algorithm import BaseAlgorithm
from razor_ext.pruning.sparse_gpt.api import sparse_gpt
from razor_ext.registry import MODELS


@MODELS.register_module()
class SparseGPT(BaseAlgorithm):
    """One-shot pruning of ``architecture`` by SparseGPT (or magnitude); settings as :func:`sparse_gpt`.

    Example:
        >>> import torch
        >>> algo = MODELS.build(dict(type='SparseGPT', architecture=nn.Sequential(nn.Linear(64, 8)),
        ...                          pattern='2:4'))
        >>> _ = algo.calibrate([torch.randn(16, 64)])
        >>> float((algo.architecture[0].weight == 0).float().mean())
        0.5
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any], sparsity: float = 0.5,
                 pattern: str | None = None, percdamp: float = 0.01, blocksize: int = 128,
                 layers: list[str] | None = None, method: str = "sparse_gpt", **kwargs: Any) -> None:
        super().__init__(architecture, **kwargs)
        self.sparse_gpt_cfg = dict(sparsity=sparsity, pattern=pattern, percdamp=percdamp,
                                   blocksize=blocksize, layers=layers, method=method)

    def calibrate(self, calib_batches: Iterable[Any] | None = None,
                  progress: bool | None = None) -> nn.Module:
        """Prune the architecture in place from ``calib_batches``; returns the architecture."""
        return sparse_gpt(self.architecture, calib_batches, progress=progress, **self.sparse_gpt_cfg)
