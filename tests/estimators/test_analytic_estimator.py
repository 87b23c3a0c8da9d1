"""ResourceEstimator's analytic path: a supernet's FLOPs and params from its choices (no
forward) equal a counted forward on many subnets; what it cannot explain falls back to a
forward and says why; building the plan leaves the model and the random state as they were."""
from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from razor_ext import Config
from razor_ext.architectures import SearchableMnistNet
from razor_ext.supernet.dynamic_ops import DynamicConv2d
from razor_ext.supernet.mutables import OneShotMutableChannel
from razor_ext.nas import NasMutator
from razor_ext.estimators import ResourceEstimator
from razor_ext.registry import MODELS
from tests.supernet.elastic_supernets import ElasticMobileNet, ElasticViT

ROOT = __import__('pathlib').Path(__file__).resolve().parents[2]


def _attentive() -> nn.Module:
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/nas_backbones/attentive_mobilenetv3_supernet.py'))
    return MODELS.build(dict(cfg.nas_backbone))


SUPERNETS = {  # name: (builder, input shape)
    'elastic_mobilenet': (ElasticMobileNet, (1, 1, 28, 28)),  # widths, kernels, expand ratios, depth
    'elastic_vit': (ElasticViT, (2, 1, 28, 28)),  # embed dims, heads, depth
    'spos_mnist': (lambda: SearchableMnistNet(width=8, depth=2), (1, 1, 28, 28)),  # one-shot ops
    'attentive_mobilenet_v3': (_attentive, (1, 3, 32, 32)),  # BigNAS space, width-gated shortcuts
}


@pytest.mark.parametrize('name', list(SUPERNETS))
def test_analytic_counts_equal_a_counted_forward(name):
    build, shape = SUPERNETS[name]
    torch.manual_seed(0)
    model = build().eval()
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    analytic = ResourceEstimator(shape, units=None)
    forward = ResourceEstimator(shape, units=None, analytic=False)
    plan = analytic.plan_for(model)
    assert plan is not None and plan.usable, plan.reason
    random.seed(1)
    kinds = ['max', 'min'] + ['random'] * 12
    for kind in kinds:
        mutator.set_choices(mutator.sample_choices(kind))
        got = analytic.estimate(model)
        assert analytic.last_method == 'analytic'
        assert got == forward.estimate(model), mutator.current_choices
        assert forward.last_method == 'forward'


def test_building_the_plan_keeps_choices_random_state_and_statistics():
    torch.manual_seed(0)
    model = ElasticMobileNet().train()
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    random.seed(3)
    mutator.set_choices(mutator.sample_choices('random'))
    choices = mutator.current_choices
    stats = {k: v.clone() for k, v in model.state_dict().items()}
    state = random.getstate()
    ResourceEstimator((1, 1, 28, 28)).estimate(model)
    assert mutator.current_choices == choices
    assert random.getstate() == state
    assert model.training
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, stats[k], msg=k)


class _MatmulOutsideModules(nn.Module):
    """FLOPs in a forward that no conv/linear module accounts for."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = DynamicConv2d(1, 8, 3, padding=1)
        self.conv.register_mutable_attr('out_channels', OneShotMutableChannel(8, [4, 8]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x).flatten(2)
        return y @ y.transpose(1, 2)


class _BranchOnWidth(nn.Module):
    """Skips a conv on a width condition without saying so (no ``runs_child``)."""

    def __init__(self) -> None:
        super().__init__()
        self.width = OneShotMutableChannel(8, [4, 8])
        self.conv = DynamicConv2d(1, 8, 3, padding=1)
        self.conv.register_mutable_attr('out_channels', self.width)
        self.extra = nn.Conv2d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.extra(y) if y.shape[1] == 8 else y


@pytest.mark.parametrize('model, why', [(_MatmulOutsideModules, 'FLOPs where its formula gives'),
                                        (_BranchOnWidth, 'runs or not for reasons other than')])
def test_what_the_plan_cannot_explain_is_counted_by_a_forward(model, why):
    model = model().eval()
    est = ResourceEstimator((1, 1, 6, 6), units=None)
    plan = est.plan_for(model)
    assert not plan.usable and why in plan.reason
    with pytest.raises(RuntimeError, match='unusable'):
        plan.estimate()
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    for width in (4, 8):
        mutator.set_choices({next(iter(mutator.search_groups)): width})
        got = est.estimate(model)
        assert est.last_method == 'forward'
        assert got == ResourceEstimator((1, 1, 6, 6), units=None, analytic=False).estimate(model)


def test_a_model_without_mutables_and_a_fixed_subnet_are_counted_by_a_forward():
    est = ResourceEstimator((1, 3, 8, 8), units=None)
    assert est.estimate(nn.Conv2d(3, 4, 3, bias=False)) == {'flops': 7776, 'params': 108}
    assert est.last_method == 'forward' and est.plan_for(nn.Conv2d(3, 4, 3)) is None
    model = ElasticMobileNet().eval()
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    for members in mutator.search_groups.values():
        for m in members:
            m.fix_chosen(m.min_choice)
    est = ResourceEstimator((1, 1, 28, 28), units=None)
    assert 'fixed' in est.plan_for(model).reason
    assert est.estimate(model)['flops'] > 0 and est.last_method == 'forward'
