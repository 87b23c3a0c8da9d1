"""Elastic supernets built from dynamic ops, shared by the search-space and algorithm tests:
an OFA/BigNAS-style MobileNet (elastic width, expand ratio, kernel, depth) and an
Autoformer-style ViT (elastic embed dim, heads, MLP ratio, depth), both for 1x28x28 inputs."""
from __future__ import annotations

import torch
from torch import nn

from razor_ext.supernet.dynamic_ops import (DynamicBatchNorm2d, DynamicConv2d, DynamicLayerNorm,
                                            DynamicLinear, DynamicMultiheadAttention,
                                            DynamicSequential)
from razor_ext.supernet.mutables import (BaseMutable, DerivedMutable, OneShotMutableChannel,
                                         OneShotMutableValue)


class ElasticInvertedResidual(nn.Module):
    def __init__(self, width: OneShotMutableChannel, cmax: int, stride: int, alias: str) -> None:
        super().__init__()
        self.expand = OneShotMutableValue([3, 6], alias=f'{alias}.expand')
        kernel = OneShotMutableValue([3, 5], alias=f'{alias}.kernel')
        hidden = DerivedMutable(lambda c, e: c * e, width, self.expand)
        self.pw = DynamicConv2d(cmax, cmax * 6, 1, bias=False)
        self.pw.register_mutable_attr('in_channels', width).register_mutable_attr('out_channels', hidden)
        self.bn1 = DynamicBatchNorm2d(cmax * 6).register_mutable_attr('num_features', hidden)
        self.dw = DynamicConv2d(cmax * 6, cmax * 6, 5, stride, 2, groups=cmax * 6, bias=False)
        self.dw.register_mutable_attr('kernel_size', kernel).register_mutable_attr('in_channels', hidden)
        self.bn2 = DynamicBatchNorm2d(cmax * 6).register_mutable_attr('num_features', hidden)
        self.pwl = DynamicConv2d(cmax * 6, cmax, 1, bias=False)
        self.pwl.register_mutable_attr('in_channels', hidden).register_mutable_attr('out_channels', width)
        self.bn3 = DynamicBatchNorm2d(cmax).register_mutable_attr('num_features', width)
        self.residual = stride == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.pw(x)))
        y = torch.relu(self.bn2(self.dw(y)))
        y = self.bn3(self.pwl(y))
        return x + y if self.residual else y


class ElasticMobileNet(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.stem_out = OneShotMutableChannel(16, [8, 16], alias='stem.width')
        self.adapt = DynamicConv2d(16, 16, 1, bias=False).register_mutable_attr('out_channels', self.stem_out)
        stages = []
        for i, (cmax, stride) in enumerate([(16, 1), (24, 2)]):
            width = OneShotMutableChannel(cmax, [0.5, 1.0], choice_mode='ratio', alias=f'stage{i}.width')
            first = ElasticTransition(self.stem_out if i == 0 else prev, width, 16 if i == 0 else 16, cmax, stride)
            blocks = DynamicSequential(first, *[ElasticInvertedResidual(width, cmax, 1, f'stage{i}.{j}')
                                                for j in range(2)])
            blocks.register_mutable_attr('depth', OneShotMutableValue([1, 2, 3], alias=f'stage{i}.depth'))
            stages.append(blocks)
            prev = width
        self.stages = nn.Sequential(*stages)
        self.head = DynamicLinear(24, num_classes)
        self.head.register_mutable_attr('in_features', prev)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.adapt(self.stem(x)))
        return self.head(x.mean((2, 3)))


class ElasticTransition(nn.Module):
    """A stage's first layer: conv from the previous width to this stage's width."""

    def __init__(self, cin: BaseMutable, cout: BaseMutable, cin_max: int, cout_max: int, stride: int) -> None:
        super().__init__()
        self.conv = DynamicConv2d(cin_max, cout_max, 3, stride, 1, bias=False)
        self.conv.register_mutable_attr('in_channels', cin).register_mutable_attr('out_channels', cout)
        self.bn = DynamicBatchNorm2d(cout_max).register_mutable_attr('num_features', cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


class ElasticViTBlock(nn.Module):
    def __init__(self, embed: BaseMutable, emax: int, alias: str) -> None:
        super().__init__()
        self.norm1 = DynamicLayerNorm(emax).register_mutable_attr('num_features', embed)
        self.attn = DynamicMultiheadAttention(emax, 4, 8)
        self.attn.register_mutable_attr('embed_dims', embed)
        self.attn.register_mutable_attr('num_heads', OneShotMutableValue([2, 4], alias=f'{alias}.heads'))
        self.norm2 = DynamicLayerNorm(emax).register_mutable_attr('num_features', embed)
        ratio = OneShotMutableValue([2, 4], alias=f'{alias}.mlp_ratio')
        self.fc1 = DynamicLinear(emax, emax * 4)
        self.fc1.register_mutable_attr('in_features', embed)
        self.fc1.register_mutable_attr('out_features', DerivedMutable(lambda e, r: e * r, embed, ratio))
        self.fc2 = DynamicLinear(emax * 4, emax).register_mutable_attr('out_features', embed)
        self.fc2.register_mutable_attr('in_features', self.fc1.get_mutable_attr('out_features'))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.norm2(x))))


class ElasticViT(nn.Module):
    """Patch embedding (a DynamicConv2d), cls token and position embedding sliced to the
    active width, elastic blocks and depth, a DynamicLinear head."""

    def __init__(self, emax: int = 32, depth: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        self.embed = OneShotMutableChannel(emax, [16, 24, 32], alias='embed_dims')
        self.patch = DynamicConv2d(1, emax, 7, 7).register_mutable_attr('out_channels', self.embed)
        self.cls_token = nn.Parameter(torch.randn(1, 1, emax) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, 17, emax) * 0.02)
        self.blocks = DynamicSequential(*[ElasticViTBlock(self.embed, emax, f'block{i}') for i in range(depth)])
        self.blocks.register_mutable_attr('depth', OneShotMutableValue([2, 3], alias='depth'))
        self.norm = DynamicLayerNorm(emax).register_mutable_attr('num_features', self.embed)
        self.head = DynamicLinear(emax, num_classes).register_mutable_attr('in_features', self.embed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        e = x.shape[-1]
        x = torch.cat([self.cls_token[..., :e].expand(x.shape[0], -1, -1), x], 1) + self.pos_embed[..., :e]
        return self.head(self.norm(self.blocks(x))[:, 0])
