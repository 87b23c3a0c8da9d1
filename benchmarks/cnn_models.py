"""ImageNet-sized CNNs written here for the pruning benchmark (torchvision is not importable on
CPU torch): EfficientNet-B0, ConvNeXt-T and Inception-v3 with torchvision's layer sizes."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def cbr(cin: int, cout: int, k: int = 1, s: int = 1, p: int | tuple = 0, groups: int = 1,
        act: type = nn.ReLU) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), act())


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, expand: int, k: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        layers = [cbr(cin, mid, act=nn.SiLU)] if expand != 1 else []
        layers.append(cbr(mid, mid, k, stride, k // 2, groups=mid, act=nn.SiLU))
        self.body = nn.Sequential(*layers)
        sq = max(1, cin // 4)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(mid, sq, 1), nn.SiLU(),
                                nn.Conv2d(sq, mid, 1), nn.Sigmoid())
        self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        y = self.body(x)
        y = self.project(y * self.se(y))
        return x + y if self.residual else y


def efficientnet_b0() -> nn.Module:
    cfg = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
           (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
    layers, c = [cbr(3, 32, 3, 2, 1, act=nn.SiLU)], 32
    for e, k, s, out, n in cfg:
        for i in range(n):
            layers.append(MBConv(c, out, e, k, s if i == 0 else 1))
            c = out
    layers += [cbr(c, 1280, act=nn.SiLU), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return _WithFc(nn.Sequential(*layers), nn.Linear(1280, 1000))


class _WithFc(nn.Module):
    def __init__(self, features: nn.Module, fc: nn.Module) -> None:
        super().__init__()
        self.features, self.fc = features, fc

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x))


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1, self.pw2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(1e-6 * torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        y = self.norm(self.dwconv(x).permute(0, 2, 3, 1))
        y = self.gamma * self.pw2(F.gelu(self.pw1(y)))
        return x + y.permute(0, 3, 1, 2)


class ConvNeXtT(nn.Module):
    def __init__(self, depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0], eps=1e-6))
        stages = []
        for i, (d, n) in enumerate(zip(dims, depths)):
            down = [] if i == 0 else [LayerNorm2d(dims[i - 1], eps=1e-6),
                                      nn.Conv2d(dims[i - 1], d, 2, 2)]
            stages.append(nn.Sequential(*down, *[CNBlock(d) for _ in range(n)]))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.fc = nn.Linear(dims[-1], 1000)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.norm(self.stages(self.stem(x)).mean((2, 3))))


class _Branches(nn.Module):
    def __init__(self, *branches: nn.Module, pool: nn.Module | None = None) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.pool = pool

    def forward(self, x: Tensor) -> Tensor:
        outs = [b(x) for b in self.branches]
        if self.pool is not None:
            outs.append(self.pool(x))
        return torch.cat(outs, 1)


def _avg_branch(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.AvgPool2d(3, 1, 1), cbr(cin, cout))


def inception_a(cin: int, pool: int) -> nn.Module:
    return _Branches(cbr(cin, 64), nn.Sequential(cbr(cin, 48), cbr(48, 64, 5, p=2)),
                     nn.Sequential(cbr(cin, 64), cbr(64, 96, 3, p=1), cbr(96, 96, 3, p=1)),
                     _avg_branch(cin, pool))


def inception_c(c7: int) -> nn.Module:
    return _Branches(cbr(768, 192),
                     nn.Sequential(cbr(768, c7), cbr(c7, c7, (1, 7), p=(0, 3)),
                                   cbr(c7, 192, (7, 1), p=(3, 0))),
                     nn.Sequential(cbr(768, c7), cbr(c7, c7, (7, 1), p=(3, 0)),
                                   cbr(c7, c7, (1, 7), p=(0, 3)), cbr(c7, c7, (7, 1), p=(3, 0)),
                                   cbr(c7, 192, (1, 7), p=(0, 3))),
                     _avg_branch(768, 192))


class _Split(nn.Module):
    """InceptionE's 1x3 / 3x1 pair on one input, concatenated."""

    def __init__(self, cin: int, stem: nn.Module | None = None) -> None:
        super().__init__()
        self.stem = stem if stem is not None else nn.Identity()
        self.a, self.b = cbr(cin, 384, (1, 3), p=(0, 1)), cbr(cin, 384, (3, 1), p=(1, 0))

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        return torch.cat([self.a(x), self.b(x)], 1)


def inception_e(cin: int) -> nn.Module:
    return _Branches(cbr(cin, 320), nn.Sequential(cbr(cin, 384), _Split(384)),
                     nn.Sequential(cbr(cin, 448), cbr(448, 384, 3, p=1), _Split(384)),
                     _avg_branch(cin, 192))


class InceptionV3(nn.Module):
    """torchvision's Inception-v3 without the auxiliary head, input 299x299."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(cbr(3, 32, 3, 2), cbr(32, 32, 3), cbr(32, 64, 3, p=1),
                                  nn.MaxPool2d(3, 2), cbr(64, 80), cbr(80, 192, 3),
                                  nn.MaxPool2d(3, 2))
        self.mixed = nn.Sequential(
            inception_a(192, 32), inception_a(256, 64), inception_a(288, 64),
            _Branches(cbr(288, 384, 3, 2), nn.Sequential(cbr(288, 64), cbr(64, 96, 3, p=1),
                                                         cbr(96, 96, 3, 2)),
                      pool=nn.MaxPool2d(3, 2)),
            inception_c(128), inception_c(160), inception_c(160), inception_c(192),
            _Branches(nn.Sequential(cbr(768, 192), cbr(192, 320, 3, 2)),
                      nn.Sequential(cbr(768, 192), cbr(192, 192, (1, 7), p=(0, 3)),
                                    cbr(192, 192, (7, 1), p=(3, 0)), cbr(192, 192, 3, 2)),
                      pool=nn.MaxPool2d(3, 2)),
            inception_e(1280), inception_e(2048))
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.mixed(self.stem(x)).mean((2, 3)))
