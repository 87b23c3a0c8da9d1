"""``ZSKTGenerator``: the generator of Zero-Shot Knowledge Transfer (Micaelli & Storkey,
NeurIPS 2019), MMRazor's layout."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from razor_ext.registry import MODELS


class _View(nn.Module):
    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: Tensor) -> Tensor:
        return x.view(x.size(0), *self.shape)


@MODELS.register_module()
class ZSKTGenerator(nn.Module):
    """Latent ``(N, latent_dim)`` -> images ``(N, 3, img_size, img_size)``: a linear layer to
    ``hidden_channels x img_size/4 x img_size/4``, then two (upsample, 3x3 conv, BN, LeakyReLU)
    stages and a 3x3 conv to 3 channels with an affine BatchNorm (no tanh, unlike DAFL's).

    Args:
        img_size: output side (divisible by ``scale_factor**2``). latent_dim, hidden_channels:
            sizes. scale_factor: upsampling per stage. leaky_slope: LeakyReLU slope.

    Example:
        >>> g = ZSKTGenerator(img_size=8, latent_dim=4, hidden_channels=8)
        >>> g(batch_size=2).shape, g(torch.randn(3, 4)).shape
        (torch.Size([2, 3, 8, 8]), torch.Size([3, 3, 8, 8]))
    """

    def __init__(self, img_size: int, latent_dim: int, hidden_channels: int,
                 scale_factor: int = 2, leaky_slope: float = 0.2, init_cfg: object = None) -> None:
        super().__init__()
        if img_size % (scale_factor ** 2):
            raise ValueError(f'img_size {img_size} must be divisible by scale_factor**2 = '
                             f'{scale_factor ** 2}')
        self.img_size, self.latent_dim, self.hidden_channels = img_size, latent_dim, hidden_channels
        self.init_size = img_size // scale_factor ** 2
        self.scale_factor = scale_factor
        h = hidden_channels
        self.layers = nn.Sequential(
            nn.Linear(latent_dim, h * self.init_size ** 2),
            _View(h, self.init_size, self.init_size), nn.BatchNorm2d(h),
            nn.Upsample(scale_factor=scale_factor), nn.Conv2d(h, h, 3, padding=1),
            nn.BatchNorm2d(h), nn.LeakyReLU(leaky_slope, inplace=True),
            nn.Upsample(scale_factor=scale_factor), nn.Conv2d(h, h // 2, 3, padding=1),
            nn.BatchNorm2d(h // 2), nn.LeakyReLU(leaky_slope, inplace=True),
            nn.Conv2d(h // 2, 3, 3, padding=1), nn.BatchNorm2d(3, affine=True))

    def forward(self, data: Tensor | None = None, batch_size: int = 1) -> Tensor:
        if data is None:
            if batch_size < 1:
                raise ValueError(f'batch_size must be >= 1, got {batch_size}')
            data = torch.randn(batch_size, self.latent_dim, device=self.layers[0].weight.device)
        if data.dim() != 2 or data.size(1) != self.latent_dim:
            raise ValueError(f'latent data must have shape (N, {self.latent_dim}), got '
                             f'{tuple(data.shape)}')
        return self.layers(data)


__all__ = ['ZSKTGenerator']
