"""BigNAS on a real elastic supernet (dynamic ops + NasMutator, not the test-only mutator): the
sandwich rule visits the max and min subnets, every sampled subnet trains with in-place KD from
the max one, and the smallest subnet's slice of the shared weights gets gradient."""
from __future__ import annotations

import random

import torch

from razor_ext.data import EmbeddedDigits
from razor_ext.registry import MODELS
from razor_ext.supernet.fix_subnet import export_fix_subnet
from tests.supernet.elastic_supernets import ElasticMobileNet


def test_bignas_sandwich_on_an_elastic_mobilenet():
    torch.manual_seed(0)
    random.seed(0)
    ds = EmbeddedDigits('mnist5k', split='val')
    batches = [(ds.images[i:i + 32], ds.labels[i:i + 32]) for i in range(0, 128, 32)]
    algo = MODELS.build(dict(type='BigNAS', architecture=ElasticMobileNet(),
                             mutator=dict(type='NasMutator'), num_random_samples=1,
                             distiller=dict(type='KLDivergence', tau=1.0, loss_weight=1.0)))
    mutator = algo.mutator
    seen = []
    set_choices = mutator.set_choices
    mutator.set_choices = lambda c: (seen.append(dict(c)), set_choices(c))[1]
    opt = torch.optim.SGD(algo.parameters(), lr=0.05, momentum=0.9)
    logs = [algo.train_step(b, opt) for b in batches]
    assert {'max_subnet.loss', 'min_subnet.loss_kd', 'random0_subnet.loss_kd'} <= set(logs[0])
    assert seen[0] == mutator.max_choices and seen[1] == mutator.min_choices
    assert logs[-1]['max_subnet.loss'] < logs[0]['max_subnet.loss']
    # the min subnet is a real, smaller network sliced from the trained weights
    mutator.set_min_choices()
    _, small = export_fix_subnet(algo.architecture, slice_weight=True)
    mutator.set_max_choices()
    _, large = export_fix_subnet(algo.architecture, slice_weight=True)
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in large.parameters()) / 2
