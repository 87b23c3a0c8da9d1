"""A small conv net whose weights are planted so that each importance criterion's choice of
channels is known in advance (worked out by hand below, not with the code under test)."""
from __future__ import annotations

import torch
from torch import nn

# Distinct BN scales: they name each channel of the first conv after pruning, and they are what
# bn_scale ranks. Their top four are channels 7, 1, 3, 5.
GAMMA = (0.1, 0.4, 0.15, 0.35, 0.2, 0.3, 0.25, 0.45)


def planted_net(setup: str) -> nn.Sequential:
    """conv1(3->8, 1x1) - BN(8) - ReLU - conv2(8->4, 1x1) - pool - linear(4->2), planted for a
    criterion. Every tensor coupled to conv1's channels other than the planted one is equal across
    those channels, so only the planted tensor decides the ranking.

    'norms' (l1, l2, bn_scale): channels 0-3 have filter [1, 1, 1] (L1 3, L2 1.73), channels 4-7
        have [2.4, 0, 0] (L1 = L2 = 2.4); BN scales add at most 0.45 and the conv2 columns the same
        to each. L1 keeps 0-3, L2 keeps 4-7, bn_scale keeps 1, 3, 5, 7.
    'fpgm': channels 0-3 sit within 0.03 of [1, 1, 1]; 4-7 are far apart: their summed distances
        to the others are the largest, so FPGM keeps 4-7.
    'taylor': conv2 reads only channels 0-3 (its columns 4-7 are zero), so w * dL/dw is zero for
        every tensor of channels 4-7: Taylor keeps 0-3.
    """
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 4, 1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 2))
    with torch.no_grad():
        w1 = torch.ones(8, 3)
        if setup == 'norms':
            w1[4:] = torch.tensor([2.4, 0.0, 0.0])
        elif setup == 'fpgm':
            w1[:4] += 0.01 * torch.arange(4.0)[:, None]
            w1[4:] = torch.tensor([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0], [-5.0, -5.0, -5.0]])
        net[0].weight.copy_(w1[:, :, None, None])
        net[1].weight.copy_(torch.tensor(GAMMA))
        net[1].bias.zero_()
        w2 = torch.full((4, 8), 0.1) + 0.05 * torch.arange(4.0)[:, None]
        if setup == 'taylor':
            w2[:, 4:] = 0.0
        net[3].weight.copy_(w2[:, :, None, None])
        # positive rows of different sizes: neither out.sum() nor a cross-entropy has a zero
        # gradient at the pooled features
        net[6].weight.copy_(torch.tensor([[1.0] * 4, [0.5] * 4]))
        net[6].bias.zero_()
    return net.eval()


def kept_channels(pruned: nn.Sequential) -> list[int]:
    """The original indices of the first conv's channels a pruned ``planted_net`` kept."""
    return sorted(GAMMA.index(round(float(g.detach()), 4)) for g in pruned[1].weight)
