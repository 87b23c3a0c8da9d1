"""References of the dynamic op family: ``dynamic_conv2d`` and ``dynamic_linear``, by slicing the
active sub-weight out of the full one and calling the static op."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def dynamic_conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                   out_channels: int | None = None, stride=1, padding=0, dilation=1, groups: int = 1,
                   kernel_size: int | None = None) -> Tensor:
    """``F.conv2d(input, weight[:o, :i, crop, crop], bias[:o], ...)`` with ``i = input.shape[1]``;
    depthwise (``groups == i``) uses ``weight[:i]``."""
    channels, full = input.shape[1], weight.shape[-1]
    k = full if kernel_size is None else kernel_size
    start = (full - k) // 2
    crop = slice(start, start + k)
    if groups == 1:
        out = weight.shape[0] if out_channels is None else out_channels
        w = weight[:out, :channels, crop, crop]
    else:
        out = channels
        w = weight[:out, :, crop, crop]
    b = None if bias is None else bias[:out]
    return F.conv2d(input, w.contiguous(), b, stride, padding, dilation, groups)


def dynamic_linear(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                   out_features: int | None = None) -> Tensor:
    """``F.linear(input, weight[:o, :i], bias[:o])`` with ``i = input.shape[-1]``."""
    out = weight.shape[0] if out_features is None else out_features
    b = None if bias is None else bias[:out]
    return F.linear(input, weight[:out, : input.shape[-1]], b)
