"""``BYOTConnector``: the auxiliary classifier of one shallow stage in BYOT self-distillation
(Zhang et al., "Be Your Own Teacher", ICCV 2019), MMRazor's layout."""
from __future__ import annotations

import math

from torch import Tensor, nn

from razor_ext.registry import MODELS


def _sep_conv(cin: int, cout: int, kernel_size: int, stride: int) -> nn.Sequential:
    """MMRazor's ``DartsSepConv`` parameter layout: (ReLU, depthwise kxk strided, 1x1, BN), then
    (ReLU, kxk grouped by ``cin`` to ``cout``, 1x1, BN); so its checkpoints' shapes match."""
    pad = kernel_size // 2
    return nn.Sequential(
        nn.Sequential(nn.ReLU(), nn.Conv2d(cin, cin, kernel_size, stride, pad, groups=cin,
                                           bias=False),
                      nn.Conv2d(cin, cin, 1, bias=False), nn.BatchNorm2d(cin)),
        nn.Sequential(nn.ReLU(), nn.Conv2d(cin, cout, kernel_size, 1, pad, groups=cin,
                                           bias=False),
                      nn.Conv2d(cout, cout, 1, bias=False), nn.BatchNorm2d(cout)))


@MODELS.register_module()
class BYOTConnector(nn.Module):
    """Attention-weighted shallow feature -> ``log2(out_channel / in_channel)`` strided separable
    convs (each doubling channels) -> average pool -> ``(feature, logits)``.

    The attention map is ``sigmoid(upsample2(relu(bn(sepconv_stride(x)))))``; the feature is
    ``attention * x``. Index 0 of the output (the pooled feature, ``(N, out_channel *
    expansion)``) is matched to the deepest feature, index 1 (``(N, num_classes)``) to labels and
    the final logits.

    Args:
        in_channel, out_channel: channels of the stage and of the deepest stage (divided by
            ``expansion``); ``out_channel / in_channel`` must be a power of two.
        num_classes: classifier width. expansion: channel multiplier (1 for BasicBlock ResNets).
        pool_size: average-pool window after the scaling convs. kernel_size: 3 or 5.
        stride: of the separable convs (2 halves the map at each doubling).

    Shapes: ``(N, in_channel * expansion, H, W)`` -> ``((N, out_channel * expansion), (N,
    num_classes))`` when the scaled map is ``pool_size`` wide.

    Example:
        >>> import torch
        >>> c = BYOTConnector(64, 512, num_classes=100, expansion=1, stride=2)
        >>> [t.shape for t in c(torch.randn(2, 64, 32, 32))]
        [torch.Size([2, 512]), torch.Size([2, 100])]
    """

    def __init__(self, in_channel: int, out_channel: int, num_classes: int, expansion: int = 4,
                 pool_size: int | tuple[int, int] = 4, kernel_size: int = 3, stride: int = 1,
                 init_cfg: object = None) -> None:
        super().__init__()
        if kernel_size not in (3, 5):
            raise ValueError(f'BYOTConnector: kernel_size must be 3 or 5, got {kernel_size!r}')
        steps = math.log2(out_channel / in_channel) if in_channel > 0 < out_channel else -1
        if steps < 0 or not float(steps).is_integer():
            raise ValueError(f'BYOTConnector: out_channel / in_channel must be a power of two, '
                             f'got {out_channel} / {in_channel}')
        c = in_channel * expansion
        self.attention = nn.Sequential(
            _sep_conv(c, c, kernel_size, stride), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode='bilinear'), nn.Sigmoid())
        scala: list[nn.Module] = []
        for i in range(int(steps)):
            scala.append(_sep_conv(c * 2 ** i, c * 2 ** (i + 1), kernel_size, stride))
        scala.append(nn.AvgPool2d(pool_size))
        self.scala = nn.Sequential(*scala)
        self.fc = nn.Linear(out_channel * expansion, num_classes)

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor]:
        feat = self.scala(self.attention(feature) * feature).flatten(1)
        return feat, self.fc(feat)


__all__ = ['BYOTConnector']
