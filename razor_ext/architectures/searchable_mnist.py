"""``SearchableMnistNet``: a small SPOS supernet for 28x28 digits (the demo's NAS stage)."""
from __future__ import annotations

from torch import Tensor, nn

from razor_ext.supernet.mutables import OneShotMutableOP
from razor_ext.registry import MODELS


def _conv_bn(cin: int, cout: int, kernel: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def searchable_block(channels: int, alias: str | None = None) -> OneShotMutableOP:
    """The candidates of one searchable layer, costliest first (so ``max_choice`` is the largest
    subnet and ``min_choice`` the smallest): 5x5 conv, 3x3 conv, depthwise-separable 3x3, skip."""
    return OneShotMutableOP({
        'conv5x5': _conv_bn(channels, channels, 5),
        'conv3x3': _conv_bn(channels, channels, 3),
        'dwsep3x3': nn.Sequential(_conv_bn(channels, channels, 3, groups=channels),
                                  _conv_bn(channels, channels, 1)),
        'skip': nn.Identity(),
    }, alias=alias)


@MODELS.register_module()
class SearchableMnistNet(nn.Module):
    """Stem conv, then three stages of ``[searchable layer x depth, max-pool]`` with widths
    ``(w, 2w, 2w)``, flattened into a linear head. Each searchable layer chooses among 5x5 conv,
    3x3 conv, depthwise-separable 3x3 and skip (4**(3*depth) subnets).

    Args:
        width: channels of the first stage.
        depth: searchable layers per stage.
        num_classes: classes.

    Shapes: ``(N, 1, 28, 28)`` -> ``(N, num_classes)``.

    Example:
        >>> import torch
        >>> SearchableMnistNet(width=4)(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, width: int = 16, depth: int = 2, num_classes: int = 10) -> None:
        super().__init__()
        widths = (width, 2 * width, 2 * width)
        layers: list[nn.Module] = [_conv_bn(1, width, 3)]
        cin = width
        for stage, cout in enumerate(widths):
            if cout != cin:
                layers.append(_conv_bn(cin, cout, 1))
            layers += [searchable_block(cout) for _ in range(depth)]
            layers.append(nn.MaxPool2d(2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin * 3 * 3, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))
