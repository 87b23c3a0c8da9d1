"""``LearnableFakeQuantize``: LSQ / LSQ+ with learnable scale (and zero point when affine)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.quantization.fake_quantize.fake_quantize import FakeQuantize
from razor_ext.quantization.functional import lsq_fake_quantize
from razor_ext.quantization.observers.base import BaseObserver
from razor_ext.registry import MODELS

__all__ = ['LearnableFakeQuantize']


@MODELS.register_module()
class LearnableFakeQuantize(FakeQuantize):
    """Fake quant whose ``scale`` (and, when affine, ``zero_point``: LSQ+) are ``nn.Parameter``s.

    While the observer is enabled its qparams (LSQ initialisation by default) overwrite the
    parameters; disable it (or :meth:`freeze`) to train them. ``use_grad_scaling`` scales their
    gradients by ``1 / sqrt(numel * quant_max)`` (per channel: numel of one channel), as LSQ.

    Example:
        >>> fq = LearnableFakeQuantize(quant_min=-8, quant_max=7, symmetric=True)
        >>> _ = fq(torch.tensor([1.0, -3.0])); _ = fq.disable_observer()
        >>> fq(torch.tensor([1.0, -3.0])).sum().backward()
        >>> fq.scale.grad is not None, fq.zero_point.requires_grad
        (True, False)
    """

    def __init__(self, observer: BaseObserver | Mapping[str, Any] | None = None, quant_min: int = 0,
                 quant_max: int = 255, symmetric: bool = False, ch_axis: int | None = None,
                 use_grad_scaling: bool = True) -> None:
        if observer is None:
            observer = dict(type='LSQObserver' if ch_axis is None else 'LSQPerChannelObserver')
        super().__init__(observer, quant_min, quant_max, symmetric, ch_axis)
        del self.scale, self.zero_point
        self.scale = nn.Parameter(torch.ones(1))
        self.zero_point = nn.Parameter(torch.zeros(1), requires_grad=not self.symmetric)
        self.use_grad_scaling = bool(use_grad_scaling)

    def _store_qparams(self, scale: Tensor, zp: Tensor) -> None:
        with torch.no_grad():
            if self.scale.shape != scale.shape:
                self.scale = nn.Parameter(torch.empty_like(scale, device=self.scale.device))
                self.zero_point = nn.Parameter(torch.empty_like(scale, device=self.scale.device),
                                               requires_grad=not self.symmetric)
            self.scale.copy_(scale)
            self.zero_point.copy_(zp.float())

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any,
                              **kwargs: Any) -> None:
        for name in ('scale', 'zero_point'):
            key, param = prefix + name, getattr(self, name)
            if key in state_dict and state_dict[key].shape != param.shape:
                setattr(self, name, nn.Parameter(torch.empty_like(state_dict[key], device=param.device),
                                                 requires_grad=param.requires_grad))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _quantize(self, x: Tensor) -> Tensor:
        with torch.no_grad():  # LSQ keeps the scale positive between optimizer steps
            self.scale.abs_().clamp_(min=torch.finfo(torch.float32).eps)
        grad_factor = 1.0
        if self.use_grad_scaling:
            per = x.numel() if self.ch_axis is None else x.numel() // max(x.shape[self.ch_axis], 1)
            grad_factor = 1.0 / (max(per, 1) * self.quant_max) ** 0.5
        return lsq_fake_quantize(x, self.scale, self.zero_point, self.quant_min, self.quant_max,
                                 self.ch_axis, grad_factor)
