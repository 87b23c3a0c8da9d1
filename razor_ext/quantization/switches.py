"""Model-wide switches over every fake quant (and BatchNorm) of a prepared model."""
from __future__ import annotations

from collections.abc import Iterator

from torch import nn

from razor_ext.quantization.fake_quantize import FakeQuantize

__all__ = ['fake_quants', 'enable_observers', 'enable_fake_quants', 'freeze_observers',
           'freeze_bn_stats']


def fake_quants(model: nn.Module) -> Iterator[tuple[str, FakeQuantize]]:
    """``(name, fake quant)`` of every fake quant in ``model``."""
    for name, module in model.named_modules():
        if isinstance(module, FakeQuantize):
            yield name, module


def enable_observers(model: nn.Module, enabled: bool = True) -> None:
    """Turn observation on or off in every fake quant (frozen ones raise when turned on)."""
    for _, fq in fake_quants(model):
        fq.enable_observer() if enabled else fq.disable_observer()


def enable_fake_quants(model: nn.Module, enabled: bool = True) -> None:
    """Turn fake quantization on or off in every fake quant."""
    for _, fq in fake_quants(model):
        fq.enable_fake_quant(enabled)


def freeze_observers(model: nn.Module) -> None:
    """Freeze every fake quant's qparams (observer freeze in QAT)."""
    for _, fq in fake_quants(model):
        fq.freeze()


def freeze_bn_stats(model: nn.Module) -> None:
    """BN freeze in QAT: every BatchNorm normalizes with its running statistics, which stop updating.

    A later ``model.train()`` would undo the eval mode; the statistics still do not move (momentum
    0), and :class:`~razor_ext.quantization.MMArchitectureQuant` re-applies the freeze.
    """
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = 0.0
            module.eval()
