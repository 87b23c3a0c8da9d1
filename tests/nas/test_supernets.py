"""Elastic supernets built from dynamic ops: sampled subnets exported static give the supernet's
outputs; subnet files round-trip through YAML onto a fresh supernet; static subnets run in
onnxruntime. (1) an OFA/BigNAS-style MobileNet (elastic width, expand ratio, kernel, depth),
(2) an Autoformer-style ViT (elastic embed dim, heads, MLP ratio, depth)."""
from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from razor_ext.export import to_onnx
from razor_ext.models.dynamic_ops import (DynamicBatchNorm2d, DynamicConv2d, DynamicLayerNorm,
                                          DynamicLinear, DynamicMixin, DynamicMultiheadAttention,
                                          DynamicSequential)
from razor_ext.models.mutables import (BaseMutable, DerivedMutable, OneShotMutableChannel,
                                       OneShotMutableValue)
from razor_ext.models.mutators import NasMutator
from razor_ext.structures import export_fix_subnet, load_fix_subnet


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


def _train_briefly(model: nn.Module, mutator: NasMutator, steps: int = 3) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(steps):
        for kind in ('max', 'min', 'random'):
            mutator.set_choices(mutator.sample_choices(kind))
            loss = model(torch.randn(8, 1, 28, 28)).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


@pytest.mark.parametrize('build', [ElasticMobileNet, ElasticViT], ids=['mobilenet', 'vit'])
def test_sampled_static_subnets_equal_the_supernet_and_round_trip(build, tmp_path):
    torch.manual_seed(0)
    random.seed(0)
    model = build()
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    _train_briefly(model, mutator)
    x = torch.randn(2, 1, 28, 28)
    for i, kind in enumerate(('max', 'min', 'random', 'random')):
        choices = mutator.sample_choices(kind)
        mutator.set_choices(choices)
        with torch.no_grad():
            want = model(x)
        subnet, static = export_fix_subnet(model, slice_weight=True, path=tmp_path / f's{i}.yaml')
        assert not any(isinstance(m, DynamicMixin) for m in static.modules())
        assert all(m.is_fixed for m in static.modules() if isinstance(m, BaseMutable))
        with torch.no_grad():
            torch.testing.assert_close(static(x), want)
        # a fresh supernet with the same weights, fixed from the YAML file, is the same subnet
        fresh = build()
        fresh.load_state_dict(model.state_dict())
        fixed = load_fix_subnet(fresh.eval(), tmp_path / f's{i}.yaml')
        with torch.no_grad():
            torch.testing.assert_close(fixed(x), want)
        if kind == 'min':
            smaller = sum(p.numel() for p in static.parameters())
            assert smaller < sum(p.numel() for p in model.parameters())
    to_onnx(static, x, tmp_path / 'subnet.onnx')  # verified in onnxruntime


def test_mutator_groups_aliases_and_never_searches_derived_values():
    model = ElasticMobileNet()
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    groups = mutator.search_groups
    assert 'stage0.width' in groups and 'stage1.depth' in groups and 'stage0.0.expand' in groups
    assert len(groups) == 1 + 2 * (1 + 1 + 2 * 2)  # stem width; per stage: width, depth, 2 x (expand, kernel)
    mutator.set_min_choices()
    assert model.stages[0][1].pwl.active_shape(8)[1] == 8
    assert model.stages[0][1].pw.active_shape(8)[1] == 8 * 3  # derived: width * expand
    with pytest.raises(ValueError, match=r"stage0.width.*not one of \[8, 16\]"):
        mutator.set_choices({**mutator.current_choices, 'stage0.width': 12})


@pytest.mark.parametrize('build', [ElasticMobileNet, ElasticViT], ids=['mobilenet', 'vit'])
def test_estimator_counts_the_active_subnet_as_its_static_copy(build):
    from razor_ext.models.task_modules.estimators import ResourceEstimator
    torch.manual_seed(0)
    model = build().eval()
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    est = ResourceEstimator(input_shape=(1, 1, 28, 28), units=None)
    results = []
    for kind in ('max', 'min', 'random'):
        mutator.set_choices(mutator.sample_choices(kind))
        _, static = export_fix_subnet(model, slice_weight=True)
        got, want = est.estimate(model), est.estimate(static)
        assert got == want and got['flops'] > 0
        results.append(got)
    assert results[1]['flops'] < results[0]['flops'] / 2 and results[1]['params'] < results[0]['params']


def test_elastic_conv_at_half_width_has_a_quarter_of_the_flops():
    from razor_ext.models.task_modules.estimators import ResourceEstimator
    conv = DynamicConv2d(16, 16, 3, padding=1, bias=False)
    width = OneShotMutableChannel(16, [8, 16])
    conv.register_mutable_attr('out_channels', width)
    net = nn.Sequential(DynamicConv2d(16, 16, 1, bias=False).register_mutable_attr('out_channels', width), conv)
    est = ResourceEstimator(input_shape=(1, 16, 8, 8), units=None)
    full = est.estimate(conv)['flops']
    assert full == 2 * 16 * 16 * 9 * 64
    width.current_choice = 8
    assert est.estimate(net)['flops'] == 2 * 8 * 16 * 64 + 2 * 8 * 8 * 9 * 64
    assert est.estimate(net)['params'] == 8 * 16 + 8 * 8 * 9
