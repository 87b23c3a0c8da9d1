"""ResNet (He et al., 2016) built here, so tests, demos and benchmarks need no torchvision
(whose wheels on our registry are CUDA builds that fail to import on CPU torch)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from razor_ext.registry import MODELS


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride) -> 1x1 residual block with expansion 4, as in torchvision."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


@MODELS.register_module()
class ResNet(nn.Module):
    """Bottleneck ResNet for images ``(N, in_channels, H, W)`` -> logits ``(N, num_classes)``.

    Example:
        >>> model = ResNet(depths=(3, 4, 6, 3))  # ResNet-50: 25.6M parameters
        >>> model(torch.randn(1, 3, 64, 64)).shape
        torch.Size([1, 1000])
    """

    def __init__(self, depths: Sequence[int] = (3, 4, 6, 3), num_classes: int = 1000,
                 in_channels: int = 3, base_width: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, base_width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stages = []
        channels = base_width
        for i, depth in enumerate(depths):
            width = base_width * 2**i
            blocks = []
            for j in range(depth):
                blocks.append(Bottleneck(channels, width, stride=2 if (i > 0 and j == 0) else 1))
                channels = width * Bottleneck.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@MODELS.register_module(name='ResNet50')
def resnet50(num_classes: int = 1000) -> ResNet:
    """ResNet-50 (3, 4, 6, 3 bottlenecks): 267 float tensors and 25.6M values in its state dict."""
    return ResNet((3, 4, 6, 3), num_classes=num_classes)
