"""SPOS, DARTS, AutoSlim and BigNAS train a few steps on a tiny supernet and MNIST-5k (14x14)."""
from __future__ import annotations

import random

import pytest
import torch

from razor_ext.data import EmbeddedDigits
from razor_ext.nas.algorithms import DARTS, SPOS, AutoSlim, BigNAS
from razor_ext.registry import MODELS
from tests.nas.tiny_supernet import TinyMutator, TinySupernet


@pytest.fixture(scope='module')
def batches():
    ds = EmbeddedDigits('mnist5k', split='train')
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(ds), generator=g)[:192]
    images = torch.nn.functional.avg_pool2d(ds.images, 2)  # 14x14 keeps the tests quick
    return [(images[i], ds.labels[i]) for i in idx.split(32)]


def _accuracy(algo, batches) -> float:
    algo.eval()
    with torch.no_grad():
        hits = sum((algo(x, mode='predict') == y).sum().item() for x, y in batches)
    algo.train()
    return hits / sum(len(y) for _, y in batches)


def test_spos_samples_a_path_per_step_and_learns(batches):
    torch.manual_seed(0)
    random.seed(0)  # the sampled paths: losses of different paths are compared below
    mutator = TinyMutator()
    algo = MODELS.build(dict(type='SPOS', architecture=TinySupernet(), mutator=mutator))
    assert isinstance(algo, SPOS)
    opt = torch.optim.SGD(algo.parameters(), lr=0.1, momentum=0.9)
    algo.train_step(batches[0], opt)
    epochs = [[algo.train_step(b, opt)['loss'] for b in batches[:4]] for _ in range(3)]
    assert sum(epochs[-1]) < sum(epochs[0])  # mean over paths and batches: it learns
    seen = {h['op'] for h in mutator.history}
    assert seen == {'conv3x3', 'conv5x5', 'skip'}  # uniform sampling reached every op
    assert len(mutator.history) == 1 + 3 * 4


def test_norm_training_keeps_bn_in_train_mode():
    algo = SPOS(TinySupernet(), mutator=TinyMutator(), norm_training=True)
    algo.eval()
    assert algo.architecture.stem[1].training and not algo.architecture.stem[0].training


def _darts(unroll=False):
    torch.manual_seed(0)
    algo = DARTS(TinySupernet(widths=(8,)), mutator=TinyMutator(diff=True), unroll=unroll)
    opt = dict(architecture=torch.optim.SGD(algo.weight_parameters(), lr=0.05, momentum=0.9),
               mutator=torch.optim.Adam(algo.arch_parameters(), lr=0.05))
    return algo, opt


@pytest.mark.parametrize('unroll', [False, True])
def test_darts_arch_params_get_gradients_only_from_the_arch_step(batches, unroll):
    algo, opt = _darts(unroll)
    (alpha,) = algo.arch_parameters()
    assert all(id(p) != id(alpha) for p in algo.weight_parameters())
    seen_grads = []

    # record alpha's gradient as each optimizer steps
    for key in ('architecture', 'mutator'):
        inner = opt[key].step

        def step(*a, _inner=inner, _key=key, **k):
            g = alpha.grad
            seen_grads.append((_key, None if g is None else g.clone()))
            return _inner(*a, **k)
        opt[key].step = step
    before = alpha.detach().clone()
    w_before = algo.architecture.stem[0].weight.detach().clone()
    log = algo.train_step((batches[0], batches[1]), opt)
    assert {'mutator.loss', 'supernet.loss'} <= set(log)
    arch_grad = dict(seen_grads)['mutator']
    assert arch_grad is not None and arch_grad.abs().sum() > 0
    # during the weight step alpha has the same (already used) gradient: nothing added to it
    weight_step_grad = dict(seen_grads)['architecture']
    assert weight_step_grad is None or torch.equal(weight_step_grad, arch_grad)
    assert not torch.equal(alpha, before)
    assert not torch.equal(algo.architecture.stem[0].weight, w_before)
    # the weights' gradients come from the supernet batch only: the arch step left none
    for _ in range(3):
        algo.train_step((batches[2], batches[3]), opt)
    assert torch.isfinite(alpha).all()


def test_darts_single_optimizer_is_a_joint_step(batches):
    algo, _ = _darts()
    opt = torch.optim.SGD(algo.parameters(), lr=0.05)
    assert set(algo.train_step(batches[0], opt)) == {'loss'}


def test_darts_rejects_unpaired_data(batches):
    algo, opt = _darts()
    with pytest.raises(ValueError, match='pair'):
        algo.train_step(batches[0][0], opt)


def test_darts_needs_arch_params():
    with pytest.raises(ValueError, match='architecture parameters'):
        DARTS(TinySupernet(), mutator=TinyMutator(diff=False))


@pytest.mark.parametrize('cls', ['AutoSlim', 'BigNAS'])
def test_sandwich_visits_max_min_random_with_inplace_kd(batches, cls):
    torch.manual_seed(0)
    random.seed(0)  # the random subnets (TinyMutator samples with Python's random)
    mutator = TinyMutator()
    algo = MODELS.build(dict(type=cls, architecture=TinySupernet(), mutator=mutator,
                             num_random_samples=2,
                             distiller=dict(type='KLDivergence', tau=1.0, loss_weight=1.0)))
    opt = torch.optim.SGD(algo.parameters(), lr=0.1, momentum=0.9)
    log = algo.train_step(batches[0], opt)
    assert set(log) >= {'max_subnet.loss', 'min_subnet.loss_kd', 'random0_subnet.loss_kd',
                        'random1_subnet.loss_kd'}
    assert mutator.history[0] == mutator.max_choices and mutator.history[1] == mutator.min_choices
    assert len(mutator.history) == 4
    # Every step trains the shared weights (whether 12 sandwich steps lower the loss of this
    # tiny supernet depends on the sampled widths: that is not what this test is about).
    before = [p.detach().clone() for p in algo.architecture.parameters()]
    for _ in range(3):
        for b in batches[:4]:
            log2 = algo.train_step(b, opt)
    assert all(not torch.equal(p0, p) for p0, p in zip(before, algo.architecture.parameters())
               if p.requires_grad)
    assert all(torch.isfinite(torch.tensor(v)) for v in log2.values())
    # the in-place KD teaches the min subnet: its loss vs the teacher is finite and >= 0
    assert log2['min_subnet.loss_kd'] >= 0


def test_sandwich_gradient_is_the_sum_over_subnets(batches):
    """One step = one optimizer step on the summed gradients of max, min and random subnets."""
    torch.manual_seed(0)
    algo = AutoSlim(TinySupernet(), mutator=TinyMutator(), num_random_samples=0)
    calls = []
    opt = torch.optim.SGD(algo.parameters(), lr=0.0)
    inner = opt.step
    opt.step = lambda *a, **k: (calls.append(1), inner(*a, **k))[1]
    algo.train_step(batches[0], opt)
    assert calls == [1]
    g = algo.architecture.fc.weight.grad
    assert g[:, 4:].abs().sum() > 0  # from the max subnet (16 channels)


def test_mmrazor_distiller_dict_and_bad_args(batches):
    dist = dict(type='ConfigurableDistiller',
                teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
                student_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
                distill_losses=dict(loss_kl=dict(type='KLDivergence', tau=2.0, loss_weight=1.0)))
    algo = BigNAS(TinySupernet(), mutator=TinyMutator(), distiller=dist, drop_path_rate=0.1)
    assert algo.distill_source == 'head.fc'
    with pytest.raises(ValueError, match='num_random_samples'):
        AutoSlim(TinySupernet(), mutator=TinyMutator(), num_random_samples=-1)
    with pytest.raises(ValueError, match='drop_path_rate'):
        BigNAS(TinySupernet(), mutator=TinyMutator(), drop_path_rate=1.5)
    with pytest.raises(TypeError, match='mutator'):
        SPOS(TinySupernet(), mutator=object())


def test_bignas_takes_mmrazor_mutators_argument_and_drop_path_schedule():
    """OFA's configs name the mutator ``mutators=``; the max subnet gets MMRazor's depth-scaled
    drop-path in ``backbone_dropout_stages`` only, the others none."""
    from razor_ext.nas.algorithms.bignas import set_dropout

    algo = BigNAS(TinySupernet(), mutators=TinyMutator())
    assert isinstance(algo.mutator, TinyMutator)
    with pytest.raises(ValueError, match='not both'):
        BigNAS(TinySupernet(), mutator=TinyMutator(), mutators=TinyMutator())
    with pytest.raises(ValueError, match='channel_mutator'):
        BigNAS(TinySupernet(), mutators=dict(bogus=1))

    class Block(torch.nn.Module):
        drop_path_rate = 0.0

    class Backbone(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [torch.nn.Sequential(Block()), torch.nn.Sequential(Block(), Block()),
                           torch.nn.Sequential(Block())]

    rates = lambda bb: [b.drop_path_rate for layer in bb.layers for b in layer]  # noqa: E731
    bb = Backbone()
    assert set_dropout(bb.layers, [2, 3], 0.4) == 3
    assert rates(bb) == pytest.approx([0.0, 0.1, 0.2, 0.3])  # 0.4 * (block index / 4 blocks)
    holder = TinySupernet()
    holder.backbone = bb = Backbone()
    algo = BigNAS(holder, mutator=TinyMutator(), drop_path_rate=0.4, backbone_dropout_stages=[3])
    algo.before_subnet('min')
    assert rates(bb) == pytest.approx([0.0, 0.0, 0.0, 0.0])
    algo.before_subnet('max')
    assert rates(bb) == pytest.approx([0.0, 0.0, 0.0, 0.3])
