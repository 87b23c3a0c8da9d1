"""Paraphraser (teacher) and Translator (student) of Factor Transfer (Kim et al., NeurIPS 2018)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.registry import MODELS


def _conv_stack(channels: list[int], use_bn: bool, transpose: bool = False) -> nn.Sequential:
    conv = nn.ConvTranspose2d if transpose else nn.Conv2d
    layers: list[nn.Module] = []
    for cin, cout in zip(channels[:-1], channels[1:]):
        layers += [conv(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout) if use_bn else nn.Sequential(),
                   nn.LeakyReLU(0.1, inplace=True)]
    return nn.Sequential(*layers)


@MODELS.register_module()
class Paraphraser(nn.Module):
    """Teacher-side auto-encoder whose bottleneck is the "factor".

    ``phase='pretrain'``: returns the reconstruction (train it with an L2 loss on the teacher
    feature); ``phase='train'``: returns the factor, without gradients.

    Paper: Kim, Park, Kwak, "Paraphrasing Complex Network: Network Compression via Factor
    Transfer", https://arxiv.org/abs/1802.04977.

    Example:
        >>> import torch
        >>> Paraphraser(4, 2, phase='train')(torch.randn(1, 4, 3, 3)).shape
        torch.Size([1, 2, 3, 3])
    """

    def __init__(self, in_channel: int, out_channel: int, phase: str = 'pretrain',
                 use_bn: bool | None = False, init_cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if phase not in ('pretrain', 'train'):
            raise ValueError(f"phase must be 'pretrain' or 'train', got {phase!r}")
        self.phase = phase
        self.encoder = _conv_stack([in_channel, in_channel, out_channel, out_channel], bool(use_bn))
        self.decoder = _conv_stack([out_channel, out_channel, in_channel, in_channel], bool(use_bn),
                                   transpose=True)

    def forward(self, x: Tensor) -> Tensor:
        if self.phase == 'train':
            with torch.no_grad():
                return self.encoder(x)
        return self.decoder(self.encoder(x))


@MODELS.register_module()
class Translator(nn.Module):
    """Student-side encoder producing a factor comparable to the Paraphraser's.

    Paper: Kim, Park, Kwak, "Paraphrasing Complex Network: Network Compression via Factor
    Transfer", https://arxiv.org/abs/1802.04977.

    Example:
        >>> import torch
        >>> Translator(3, 2)(torch.randn(2, 3, 3, 3)).shape
        torch.Size([2, 2, 3, 3])
    """

    def __init__(self, in_channel: int, out_channel: int, use_bn: bool | None = True,
                 init_cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.encoder = _conv_stack([in_channel, in_channel, out_channel, out_channel], bool(use_bn))

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x)
