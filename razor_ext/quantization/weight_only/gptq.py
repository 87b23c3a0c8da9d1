"""``gptq``: post-training weight-only quantization of a whole model, one call (GPTQ, or
round-to-nearest through the same API for comparison)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.hessian import layer_weight_matrix, replace_without_calibration, sequential_calibrate
from razor_ext.quantization.weight_only.gptq_layer import gptq_quantize
from razor_ext.quantization.weight_only.group_quant import rtn_quantize
from razor_ext.quantization.weight_only.linear import WeightOnlyQuantLinear

METHODS = ("gptq", "rtn")


def quantize_layer(layer: nn.Module, hessian: Tensor | None, method: str, bits: int, group_size: int,
                   sym: bool, act_order: bool, percdamp: float, blocksize: int) -> nn.Module:
    """One layer: ``nn.Linear`` -> :class:`WeightOnlyQuantLinear`; ``nn.Conv2d`` keeps its class
    with the quantized-then-dequantized weight written back (no packed conv kernel yet).

    Example:
        >>> q = quantize_layer(nn.Linear(64, 8), None, 'rtn', 4, 32, True, False, 0.01, 128)
        >>> type(q).__name__
        'WeightOnlyQuantLinear'
    """
    w = layer_weight_matrix(layer)
    if method == "gptq":
        codes, scales, zeros = gptq_quantize(w, hessian, bits, group_size, sym, act_order, percdamp,
                                             blocksize)
    else:
        codes, scales, zeros = rtn_quantize(w, bits, group_size, sym)
    gs = w.shape[1] if group_size <= 0 else group_size
    if isinstance(layer, nn.Linear):
        return WeightOnlyQuantLinear.from_codes(codes, scales, zeros, bits, gs, layer.bias)
    cols = torch.arange(w.shape[1], device=w.device) // gs
    deq = (codes.float() - zeros[:, cols]) * scales[:, cols]
    layer.weight.data.copy_(deq.reshape(layer.weight.shape).to(layer.weight.dtype))
    return layer


def gptq(model: nn.Module, calib_batches: Iterable[Any] | None = None, bits: int = 4,
         group_size: int = 128, sym: bool = True, act_order: bool = False, percdamp: float = 0.01,
         blocksize: int = 128, layers: Sequence[str] | None = None, method: str = "gptq",
         progress: bool | None = None) -> nn.Module:
    """Quantize ``model``'s linear (and conv) weights to ``bits`` bits in place, GPTQ-style.

    Calibration runs block by block (``razor_ext.hessian.sequential_calibrate``): one
    transformer block's inputs are held at a time, each block's layers get their Hessian
    ``2/n X^T X`` from those inputs, are quantized, and the block is rerun so the next block sees
    quantized outputs. Linear layers become :class:`WeightOnlyQuantLinear`.

    Args:
        model: a Hugging Face decoder (Llama / Qwen2 / Mistral / OPT), or any model of
            ``nn.Linear`` / ``nn.Conv2d`` layers.
        calib_batches: model inputs (tensors, tuples of args or dicts of kwargs); not needed for
            ``method='rtn'``.
        bits: 4 or 8. group_size: columns per scale (``-1``: one per row).
        sym: symmetric (zero point ``2**(bits-1)``) or asymmetric min-max ranges.
        act_order: visit columns by decreasing Hessian diagonal (static groups).
        percdamp: damping, a fraction of the mean Hessian diagonal. blocksize: lazy-update block.
        layers: ``fnmatch`` patterns of layer names to quantize (default: all in the blocks).
        method: ``'gptq'`` or ``'rtn'`` (round-to-nearest, the baseline).

    Returns:
        ``model``, quantized.

    Example:
        >>> m = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8))
        >>> m = gptq(m, [torch.randn(16, 64)], bits=4, group_size=32)
        >>> type(m[0]).__name__, m(torch.randn(2, 64)).shape
        ('WeightOnlyQuantLinear', torch.Size([2, 8]))
    """
    if method not in METHODS:
        raise ValueError(f"gptq: method must be one of {METHODS}, got {method!r}")
    if bits not in (4, 8):
        raise ValueError(f"gptq: bits must be 4 or 8, got {bits}")
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size == 0 or group_size < -1:
        raise ValueError(f"gptq: group_size must be a positive int or -1, got {group_size!r}")

    def layer_fn(_name: str, layer: nn.Module, hessian: Tensor) -> nn.Module:
        return quantize_layer(layer, hessian, method, bits, group_size, sym, act_order, percdamp,
                              blocksize)

    if method == "rtn":
        return replace_without_calibration(model, layer_fn, layers)
    if calib_batches is None:
        raise ValueError("gptq: calib_batches are needed for method='gptq'")
    return sequential_calibrate(model, calib_batches, layer_fn, layers, progress, desc=method)
