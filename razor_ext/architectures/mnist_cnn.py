"""``MnistCNN``: the small digit classifier the demo, the configs and the tests train."""
from __future__ import annotations

from torch import Tensor, nn

from razor_ext.registry import MODELS


@MODELS.register_module()
class MnistCNN(nn.Module):
    """Conv-BN-ReLU-MaxPool x3, flattened into a linear head (the 3x3 positions of a 28x28 input).

    Args:
        width: channels of the first conv (then 2x and 4x).
        num_classes: classes.
        in_channels: input channels.
        input_size: height = width of the input (the head's size depends on it).

    Shapes: ``(N, in_channels, H, W)`` -> ``(N, num_classes)`` logits.

    Example:
        >>> import torch
        >>> MnistCNN(width=8)(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, width: int = 8, num_classes: int = 10, in_channels: int = 1,
                 input_size: int = 28) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                                 nn.ReLU(inplace=True))

        self.features = nn.Sequential(block(in_channels, width), nn.MaxPool2d(2),
                                      block(width, 2 * width), nn.MaxPool2d(2),
                                      block(2 * width, 2 * width), nn.MaxPool2d(2))
        side = input_size // 8
        self.head = nn.Linear(2 * width * side * side, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))
