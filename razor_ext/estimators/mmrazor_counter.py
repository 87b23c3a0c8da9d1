"""Multiply-adds counted as MMRazor's ``ResourceEstimator`` counts them: per module, by type, on one
forward. Convolutions ``k_h*k_w*C_in*C_out/groups`` per output position (+ the bias), linear layers
``input numel * out_features``, and, unlike razor_ext's default count, also norm layers (the
input's elements, twice when affine), activations (the output's elements) and pooling (the
input's elements). Use it to compare with the FLOPs in MMRazor's tables."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

_ACTS = (nn.ReLU, nn.ReLU6, nn.PReLU, nn.ELU, nn.LeakyReLU)
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.LayerNorm,
          nn.GroupNorm)
_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
          nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
          nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)


def _module_macs(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> int:
    x = inputs[0] if inputs else None
    if not isinstance(x, torch.Tensor) or not isinstance(output, torch.Tensor):
        return 0
    if isinstance(module, nn.modules.conv._ConvNd) and not isinstance(module, nn.modules.conv._ConvTransposeNd):
        # channels from the tensors, so a dynamic conv counts its active slice
        per_position = math.prod(module.kernel_size) * (x.shape[1] // module.groups) * output.shape[1]
        positions = output.shape[0] * math.prod(output.shape[2:])
        return per_position * positions + (output.shape[1] * positions if module.bias is not None else 0)
    if isinstance(module, nn.Linear):
        return x.numel() * output.shape[-1]
    if isinstance(module, _NORMS):
        affine = getattr(module, 'affine', getattr(module, 'elementwise_affine', False))
        return x.numel() * (2 if affine else 1)
    if isinstance(module, _ACTS):
        return output.numel()
    if isinstance(module, _POOLS):
        return x.numel()
    return 0


def mmrazor_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of one forward of ``x`` (shape ``(N, C, H, W)``), counted as MMRazor does.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        ...                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
        >>> mmrazor_macs(net.eval(), torch.zeros(1, 3, 5, 5))  # 972 + 72 + 36 + 36 + 8
        1124
    """
    total = 0

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        nonlocal total
        total += _module_macs(module, inputs, output)

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return int(total)
