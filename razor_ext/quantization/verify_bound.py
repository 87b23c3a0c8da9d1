"""How far a runtime's int8 result may lie from the fake-quant model's: the bound that
``export_onnx(verify=True)`` checks, depth- and gain-aware.

A runtime evaluates each quantized layer with its own arithmetic (fused int8 kernels, fixed-point
requantization multipliers, another summation order). Where a value sits near a rounding tie,
the runtime's requantization can land one code away from PyTorch's. That code is then an input
of every later layer, which carries it to the output scaled by their weights: one step at the
output of a shallow network, two or more after twenty quantized layers, and, for a float head
after int8 layers (no output step at all), the last quantized tensor's step times the head's
weights.

:func:`requantization_envelope` measures exactly that on the model itself: the largest change
of each output when *every* activation quantizer's output is moved by one code (a seeded random
+-1 code per element, all layers at once). It is an envelope: real runtimes flip only the rare
values near ties, so they stay well inside it, while a wrong file (scale, zero point, layout)
moves outputs by many codes everywhere and lands outside it.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, fx, nn

from razor_ext.quantization.fake_quantize import FakeQuantize

__all__ = ['activation_quantizers', 'requantization_envelope']


def activation_quantizers(model: nn.Module) -> list[FakeQuantize]:
    """The fake quants a prepared (``torch.fx``) model applies to activations: those called as
    graph nodes (weight fake quants live inside their layers). Empty for other modules.

    Example:
        >>> from razor_ext.quantization import prepare
        >>> q = prepare(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)), torch.randn(2, 4))
        >>> len(activation_quantizers(q)) >= 2
        True
    """
    if not isinstance(model, fx.GraphModule):
        return []
    out: list[FakeQuantize] = []
    for node in model.graph.nodes:
        if node.op == 'call_module':
            module = model.get_submodule(node.target)
            if isinstance(module, FakeQuantize) and all(module is not m for m in out):
                out.append(module)
    return out


def _one_code(fq: FakeQuantize, out: Tensor, gen: torch.Generator) -> Tensor:
    """``out`` moved by a random +-1 code per element (per-channel scales broadcast on ch_axis)."""
    scale = fq.scale.detach().to(out.dtype)
    if scale.numel() > 1 and fq.ch_axis is not None:
        shape = [1] * out.dim()
        shape[fq.ch_axis] = -1
        scale = scale.reshape(shape)
    else:
        scale = scale.max()
    signs = torch.randint(0, 2, out.shape, generator=gen).to(out.dtype) * 2 - 1
    return out + signs * scale


def requantization_envelope(model: nn.Module, inputs: Sequence[Tensor], seed: int = 0) -> list[float]:
    """Per output of ``model(*inputs)``: the largest absolute change when every activation
    quantizer's output is one code off (see the module docstring). ``[]`` when the model has no
    activation quantizers in an fx graph (callers then fall back to one output step).

    Example:
        >>> from razor_ext.quantization import calibrate, prepare
        >>> net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> x = torch.randn(16, 8)
        >>> q = calibrate(prepare(net, x), [x]).eval()
        >>> [e > 0 for e in requantization_envelope(q, [x])]
        [True]
    """
    quantizers = activation_quantizers(model)
    if not quantizers:
        return []
    gen = torch.Generator().manual_seed(seed)
    handles: list[Any] = []
    with torch.no_grad():
        reference = model(*inputs)
        try:
            for fq in quantizers:
                handles.append(fq.register_forward_hook(
                    lambda m, args, out: _one_code(m, out, gen) if bool(m.fake_quant_enabled) else out))
            moved = model(*inputs)
        finally:
            for h in handles:
                h.remove()
    ref = list(reference) if isinstance(reference, (list, tuple)) else [reference]
    got = list(moved) if isinstance(moved, (list, tuple)) else [moved]
    return [float((a.float() - b.float()).abs().max()) if a.numel() else 0.0
            for a, b in zip(ref, got)]
