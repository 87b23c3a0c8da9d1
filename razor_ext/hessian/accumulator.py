"""The Hessian of a layer's squared output error w.r.t. its weight rows: ``H = 2/n sum_i x_i x_i^T``
over the ``n`` input vectors the layer has seen (Frantar et al., GPTQ, 2022)."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def layer_weight_matrix(layer: nn.Module) -> Tensor:
    """The layer's weight as the ``[out, in]`` matrix its Hessian is about (a float32 copy).

    ``nn.Linear``: ``weight``; ``nn.Conv2d`` (groups=1): ``weight.flatten(1)``, ``[out, in*kh*kw]``.

    Example:
        >>> layer_weight_matrix(nn.Conv2d(3, 4, 3)).shape
        torch.Size([4, 27])
    """
    check_layer(layer)
    return layer.weight.detach().flatten(1).to(torch.float32).clone()


def check_layer(layer: nn.Module) -> None:
    if isinstance(layer, nn.Conv2d):
        if layer.groups != 1:
            raise ValueError(f"Hessian-based compression needs groups=1 convolutions, got groups={layer.groups}")
        return
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"expected nn.Linear or nn.Conv2d, got {type(layer).__name__}")


class HessianAccumulator:
    """Running ``H = 2/n X^T X`` of the inputs of one ``nn.Linear`` or ``nn.Conv2d`` (groups=1).

    Rows of a linear input are its leading indices; a conv's input vectors are its unfolded
    patches (``[C*kh*kw]`` per output position). Accumulated in float32, rescaled as samples
    arrive so that ``H`` is always the mean over what was seen (as MMRazor's GPTQ mixin does).

    Example:
        >>> acc = HessianAccumulator(nn.Linear(3, 2))
        >>> acc.add(torch.eye(3)); acc.hessian
        tensor([[0.6667, 0.0000, 0.0000],
                [0.0000, 0.6667, 0.0000],
                [0.0000, 0.0000, 0.6667]])
    """

    def __init__(self, layer: nn.Module) -> None:
        check_layer(layer)
        self.layer = layer
        columns = layer.weight[0].numel()
        self.hessian = torch.zeros(columns, columns, device=layer.weight.device, dtype=torch.float32)
        self.samples = 0

    def input_vectors(self, inp: Tensor) -> Tensor:
        """``[columns, n]``: the input vectors of one call, one per column."""
        layer = self.layer
        if isinstance(layer, nn.Linear):
            return inp.detach().reshape(-1, inp.shape[-1]).t().to(torch.float32)
        x = inp.detach().to(torch.float32)
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
            raise ValueError("HessianAccumulator: conv padding must be given as numbers, zero padded")
        cols = nn.functional.unfold(x, layer.kernel_size, dilation=layer.dilation,
                                    padding=layer.padding, stride=layer.stride)  # [B, C*kh*kw, L]
        return cols.permute(1, 0, 2).flatten(1)

    def add(self, inp: Tensor) -> None:
        """Fold one call's input (``(..., in)`` for linear, ``(B, C, H, W)`` for conv) into ``H``."""
        vectors = self.input_vectors(inp)
        n = vectors.shape[1]
        if n == 0:
            return
        self.hessian *= self.samples / (self.samples + n)
        self.samples += n
        vectors = vectors * math.sqrt(2.0 / self.samples)
        self.hessian += vectors @ vectors.t()

    def hook(self) -> torch.utils.hooks.RemovableHandle:
        """Register a forward hook that adds every input the layer sees; remove it when done."""
        return self.layer.register_forward_hook(lambda _m, args, _out: self.add(args[0]))
