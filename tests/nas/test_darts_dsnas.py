"""DARTS and DSNAS on a tiny DARTS cell supernet (3 cells on 28x28 MNIST-5k digits), and the
DARTS training loops driven by the Runner."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, Subset

from razor_ext.data import EmbeddedDigits
from razor_ext.engine import Runner
from razor_ext.export import to_onnx
from razor_ext.nas.algorithms import DARTS, DSNAS
from razor_ext.supernet.mutables import BaseMutable
from razor_ext.registry import MODELS, TASK_UTILS
from razor_ext.supernet.fix_subnet import export_fix_subnet

OPS = dict(
    zero=dict(type='DartsZero'),
    skip_connect=dict(type='DartsSkipConnect'),
    max_pool_3x3=dict(type='DartsPoolBN', pool_type='max'),
    sep_conv_3x3=dict(type='DartsSepConv', kernel_size=3),
    dil_conv_3x3=dict(type='DartsDilConv', kernel_size=3))


@pytest.fixture(autouse=True)
def one_thread():
    # The 2 cores are shared: OpenMP's spinning threads make small depthwise convs 50x slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope='module')
def batches():
    ds = EmbeddedDigits('mnist5k', split='train')
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[:64]
    return [(ds.images[i], ds.labels[i]) for i in idx.split(16)]


def supernet(edge: str = 'DiffMutableOP', route_arch: bool = True) -> dict:
    return dict(
        type='mmcls.ImageClassifier',
        backbone=dict(type='mmrazor.DartsBackbone', in_channels=1, base_channels=4,
                      num_layers=3, num_nodes=2, out_indices=(2,),
                      mutable_cfg=dict(type=f'mmrazor.{edge}', candidates=OPS),
                      route_cfg=dict(type='mmrazor.DiffChoiceRoute', with_arch_param=route_arch),
                      norm_cfg=dict(type='BN', affine=False)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=32))


def optimizers(algo) -> dict:
    return dict(architecture=torch.optim.SGD(algo.weight_parameters(), lr=0.05, momentum=0.9),
                mutator=torch.optim.Adam(algo.arch_parameters(), lr=0.01))


def record_steps(opt: dict, tensors: dict) -> list:
    """Wrap each optimizer's step to record (optimizer key, {name: grad clone or None})."""
    seen = []
    for key in opt:
        inner = opt[key].step

        def step(*a, _inner=inner, _key=key, **k):
            seen.append((_key, {n: None if t.grad is None else t.grad.clone()
                                for n, t in tensors.items()}))
            return _inner(*a, **k)
        opt[key].step = step
    return seen


# ----------------------------------------------------------------------------- DARTS
@pytest.mark.parametrize('unroll', [False, True])
def test_darts_arch_params_get_gradients_only_in_the_architecture_step(batches, unroll):
    torch.manual_seed(0)
    algo = MODELS.build(dict(type='mmrazor.Darts', architecture=supernet(),
                             mutator=dict(type='mmrazor.NasMutator'), unroll=unroll))
    assert isinstance(algo, DARTS)
    alphas = algo.mutator.arch_params
    assert len(alphas) == 2 * (5 + 2) and len(algo.arch_parameters()) == len(alphas)
    stem = algo.architecture.backbone.stem[0].weight
    opt = optimizers(algo)
    seen = record_steps(opt, {**alphas, 'stem': stem})
    before = {k: a.detach().clone() for k, a in alphas.items()}
    log = algo.train_step((batches[0], batches[1]), opt)
    assert {'mutator.loss', 'supernet.loss'} <= set(log)
    (k1, at_arch), (k2, at_weights) = seen
    assert (k1, k2) == ('mutator', 'architecture')
    # architecture step: every alpha has a gradient; the weights have none yet
    assert all(at_arch[k] is not None and at_arch[k].abs().sum() > 0 for k in alphas)
    if not unroll:
        assert at_arch['stem'] is None
    # weight step: the weights have a gradient; nothing was added to the alphas'
    assert at_weights['stem'] is not None and at_weights['stem'].abs().sum() > 0
    assert all(torch.equal(at_weights[k], at_arch[k]) for k in alphas)
    assert all(not torch.equal(before[k], a) for k, a in alphas.items())


def test_darts_trains_and_exports_its_genotype(batches, tmp_path):
    torch.manual_seed(0)
    algo = DARTS(supernet(), mutator=dict(type='NasMutator'))
    opt = optimizers(algo)
    logs = [algo.train_step((batches[i], batches[(i + 1) % 4]), opt) for i in range(4)]
    assert all(torch.isfinite(torch.tensor(list(log.values()))).all() for log in logs)
    subnet, static = export_fix_subnet(algo.architecture, slice_weight=True)
    derived = algo.mutator.arch_choices()
    assert {k: v['chosen'] for k, v in subnet.items()} == derived
    assert all(len(derived[f'{kind}_n3']) == 2 for kind in ('normal', 'reduce'))
    assert not any(isinstance(m, BaseMutable) for m in static.modules())
    static.eval()
    assert static(batches[0][0]).shape == (16, 10)
    # the derived subnet is plain torch: it exports to ONNX and onnxruntime agrees
    assert to_onnx(static, batches[0][0][:2], tmp_path / 'darts_subnet.onnx', verify=True).is_file()


# ----------------------------------------------------------------------------- DSNAS
def _dsnas(**kw) -> DSNAS:
    torch.manual_seed(0)
    cfg = dict(type='mmrazor.DSNAS', architecture=supernet('OneHotMutableOP', route_arch=False),
               mutator=dict(type='mmrazor.NasMutator'), pretrain_epochs=1, finetune_epochs=2,
               estimator_cfg=dict(input_shape=(1, 1, 28, 28)))
    cfg.update(kw)
    return MODELS.build(cfg)


def test_dsnas_stages_pretrain_search_then_fixed_subnet(batches):
    algo = _dsnas(flops_constraints=0.0)  # every subnet is over budget: flops loss is on
    alphas = algo.mutator.arch_params
    assert len(alphas) == 2 * 5  # edges only: the routes sum their inputs
    opt = optimizers(algo)
    seen = record_steps(opt, dict(alphas))
    head = algo.architecture.head.fc.weight
    # epoch 0 (pretraining): weights move, the architecture does not
    a0, w0 = {k: a.detach().clone() for k, a in alphas.items()}, head.detach().clone()
    log = algo.train_step(batches[0], opt)
    assert 'mutator.flops_loss' not in log and [k for k, _ in seen] == ['architecture']
    assert all(torch.equal(a0[k], a) for k, a in alphas.items()) and not torch.equal(w0, head)
    # epoch 1 (search): one backward gave every sampled edge's alpha its gradient
    algo.set_epoch(1)
    log = algo.train_step(batches[1], opt)
    assert log['mutator.flops_loss'] > 0
    arch_grads = dict(seen)['mutator']
    assert all(g is not None and g.abs().sum() > 0 for g in arch_grads.values())
    assert all(not torch.equal(a0[k], a) for k, a in alphas.items())
    # epoch 2 (finetune): the supernet fixes to the most likely ops, once
    expected = algo.mutator.arch_choices()
    flops = algo.subnet_flops()
    algo.set_epoch(2)
    a2 = {k: a.detach().clone() for k, a in alphas.items()}
    algo.train_step(batches[2], opt)
    assert not algo.is_supernet
    mutables = [m for m in algo.architecture.modules() if isinstance(m, BaseMutable)]
    assert mutables and all(m.is_fixed for m in mutables)
    assert algo.mutator.current_choices == {**algo.mutator.current_choices, **expected}
    assert all(torch.equal(a2[k], a) for k, a in alphas.items())
    algo.train_step(batches[3], opt)
    # the derived subnet's FLOPs were predicted right
    _, static = export_fix_subnet(algo.architecture, slice_weight=True)
    assert not any(isinstance(m, BaseMutable) for m in static.modules())
    measured = TASK_UTILS.build(dict(type='ResourceEstimator', input_shape=(1, 1, 28, 28)))
    assert measured.estimate(static)['flops'] == pytest.approx(flops, rel=1e-6)


def test_dsnas_flops_loss_only_over_budget(batches):
    algo = _dsnas(flops_constraints=1e9, pretrain_epochs=0)
    log = algo.train_step(batches[0], optimizers(algo))
    assert 'mutator.flops_loss' not in log and 'supernet.loss' in log
    assert algo.compute_flops_loss() is None


def test_dsnas_single_optimizer_and_bad_arguments(batches):
    algo = _dsnas()
    log = algo.train_step(batches[0], torch.optim.SGD(algo.parameters(), lr=0.01))
    assert set(log) == {'loss'}
    with pytest.raises(ValueError, match='pretrain_epochs < finetune_epochs'):
        _dsnas(pretrain_epochs=3, finetune_epochs=3)
    with pytest.raises(ValueError, match='architecture parameters'):
        DSNAS(dict(type='SearchableMnistNet', width=4, depth=1))


# ----------------------------------------------------------------------------- Runner loops
def _loader(split: str, n: int, batch: int = 8) -> DataLoader:
    return DataLoader(Subset(EmbeddedDigits('mnist5k', split=split), range(n)), batch_size=batch)


def _runner_cfg(tmp_path, model, train_cfg, optim) -> dict:
    return dict(model=model, work_dir=str(tmp_path), train_dataloader=_loader('train', 24),
                train_cfg=train_cfg, optim_wrapper=optim,
                default_hooks=dict(logger=dict(type='LoggerHook', interval=1, console=False),
                                   checkpoint=dict(type='CheckpointHook', interval=1)))


@pytest.mark.parametrize('loop', ['DartsEpochBasedTrainLoop', 'DartsIterBasedTrainLoop'])
def test_darts_loops_feed_supernet_and_mutator_batches(tmp_path, loop):
    torch.manual_seed(0)
    optim = dict(architecture=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
                 mutator=dict(optimizer=dict(type='Adam', lr=3e-3)))
    mutator_loader = _loader('val', 16)  # shorter: 2 batches an epoch
    train_cfg = dict(type=loop, mutator_dataloader=mutator_loader,
                     **(dict(max_epochs=1) if 'Epoch' in loop else dict(max_iters=3)))
    cfg = _runner_cfg(tmp_path, dict(type='mmrazor.Darts', architecture=supernet(),
                                     mutator=dict(type='mmrazor.NasMutator')), train_cfg, optim)
    runner = Runner.from_cfg(cfg)
    algo = runner.model
    pairs = []
    inner = algo.train_step
    algo.train_step = lambda data, opt: (pairs.append(data), inner(data, opt))[1]
    before = {k: a.detach().clone() for k, a in algo.mutator.arch_params.items()}
    runner.train()
    assert len(pairs) == (2 if 'Epoch' in loop else 3)
    supernet_batch, mutator_batch = pairs[0]
    first = [cfg['train_dataloader'].dataset, mutator_loader.dataset]
    for batch, dataset in zip((supernet_batch, mutator_batch), first):
        assert torch.equal(batch[0], torch.stack([dataset[i][0] for i in range(8)]))
        assert torch.equal(batch[1], torch.stack([dataset[i][1] for i in range(8)]))
    if 'Iter' in loop:  # the third iteration restarted both loaders
        assert torch.equal(pairs[2][1][0], mutator_batch[0])
    assert all(not torch.equal(before[k], a) for k, a in algo.mutator.arch_params.items())
    assert (tmp_path / 'log.jsonl').is_file()
    assert any(p.name.endswith('.pth') for p in tmp_path.iterdir())


def test_dsnas_under_the_runner_switches_stage_by_epoch(tmp_path):
    torch.manual_seed(0)
    optim = dict(architecture=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
                 mutator=dict(optimizer=dict(type='Adam', lr=3e-3)))
    model = dict(type='DSNAS', architecture=supernet('OneHotMutableOP', route_arch=False),
                 mutator=dict(type='NasMutator'), pretrain_epochs=1, finetune_epochs=2,
                 flops_constraints=0.0, estimator_cfg=dict(input_shape=(1, 1, 28, 28)))
    cfg = _runner_cfg(tmp_path, model, dict(type='EpochBasedTrainLoop', max_epochs=3), optim)
    cfg['train_dataloader'] = _loader('train', 16)
    cfg['custom_hooks'] = [dict(type='EpochInfoHook')]
    runner = Runner.from_cfg(cfg)
    algo = runner.model
    epochs = []
    inner = algo.train_step
    algo.train_step = lambda data, opt: (epochs.append((algo.cur_epoch, algo.is_supernet)),
                                         inner(data, opt))[1]
    runner.train()
    assert [e for e, _ in epochs] == [0, 0, 1, 1, 2, 2]
    assert not algo.is_supernet and epochs[3][1]
