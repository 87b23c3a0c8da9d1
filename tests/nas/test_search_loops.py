"""EvolutionSearchLoop and SubnetValLoop run under the Runner on a tiny supernet."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from razor_ext.engine import Runner
from razor_ext.engine.loops import search_loops
from razor_ext.nas.search import SearchResult, evolution
from razor_ext.nas.algorithms import SPOS
from tests.nas.tiny_supernet import TinyMutator, TinySupernet

LOADER = dict(batch_size=100, dataset=dict(type='EmbeddedDigits', name='mnist5k', split='val'))


def _runner(tmp_path, **cfg):
    torch.manual_seed(0)
    model = SPOS(TinySupernet(), mutator=TinyMutator())
    return Runner.from_cfg(dict(model=model, work_dir=str(tmp_path), **cfg))


def test_subnet_val_loop_reports_each_subnet(tmp_path):
    runner = _runner(tmp_path, val_dataloader=LOADER,
                     val_cfg=dict(type='SubnetValLoop', subnets=['max', 'min', 'random'],
                                  num_random=2))
    before = dict(runner.model.mutator.current_choices)
    metrics = runner.val()
    assert {'max/accuracy/top1', 'min/accuracy/top1', 'random0/accuracy/top1',
            'random1/accuracy/top1'} <= set(metrics)
    assert runner.model.mutator.current_choices == before
    with pytest.raises(ValueError, match='subnets entries'):
        _runner(tmp_path, val_dataloader=LOADER,
                val_cfg=dict(type='SubnetValLoop', subnets=['biggest'])).val()


def _calibration_stats(model, images: list[torch.Tensor], choices: dict) -> dict:
    """The BN running stats a calibration on ``images`` (a list of batches) must leave, worked
    out here with plain tensor ops: the forward re-implemented in train mode (batch statistics
    normalise), each BN's running mean/var the average over the batches of that batch's mean and
    unbiased variance (cumulative average, momentum None)."""
    net = model.architecture

    def stats(y):
        return y.mean((0, 2, 3)), y.var((0, 2, 3), unbiased=True)

    def normalise(y, bn, w):
        mean, var = y.mean((0, 2, 3), keepdim=True), y.var((0, 2, 3), unbiased=False, keepdim=True)
        return ((y - mean) / torch.sqrt(var + bn.eps) * bn.weight[:w, None, None]
                + bn.bias[:w, None, None])

    w = choices['width']
    per_batch = {'stem.1': [], 'width.bn': []}
    with torch.no_grad():
        for x in images:
            y = F.conv2d(x, net.stem[0].weight, net.stem[0].bias, padding=1)
            per_batch['stem.1'].append(stats(y))
            h = normalise(y, net.stem[1], y.shape[1]).relu()
            op = choices['op']
            if op != 'skip':
                conv = net.op._candidates[op]
                h = F.conv2d(h, conv.weight, conv.bias, padding=conv.padding)
            per_batch['width.bn'].append(stats(F.conv2d(h, net.width.conv.weight[:w], padding=1)))
    out = {}
    for name, pairs in per_batch.items():
        mean = torch.stack([m for m, _ in pairs]).mean(0)
        var = torch.stack([v for _, v in pairs]).mean(0)
        if name == 'width.bn':  # channels past the chosen width: reset, untouched since
            full = net.width.bn.num_features
            mean = torch.cat([mean, torch.zeros(full - w)])
            var = torch.cat([var, torch.ones(full - w)])
        out[name] = (mean, var)
    return out


def test_evolution_search_loop_with_bn_calibration_resumes(tmp_path, monkeypatch):
    # 100 calibration images from the train loader in two batches of 50: the running stats are
    # the average of the two batches' statistics, checked for every candidate when it is scored.
    cfg = dict(test_dataloader=LOADER, train_dataloader=dict(LOADER, batch_size=50),
               test_cfg=dict(type='EvolutionSearchLoop', max_epochs=2, num_candidates=3, top_k=2,
                             num_mutation=1, num_crossover=1, calibrate_sample_num=100,
                             constraints_range=dict(width=(0, 8)),
                             estimator_cfg=lambda m: {'width': m.architecture.width.current_choice},
                             max_sample_attempts=200))
    seen = []
    real_evaluate = search_loops.evaluate

    def recording_evaluate(model, *args, **kwargs):
        bns = dict(model.architecture.named_modules())
        seen.append((dict(model.mutator.current_choices),
                     {n: (bns[n].running_mean.clone(), bns[n].running_var.clone())
                      for n in ('stem.1', 'width.bn')}))
        return real_evaluate(model, *args, **kwargs)

    monkeypatch.setattr(search_loops, 'evaluate', recording_evaluate)
    runner = _runner(tmp_path, **cfg)
    result = runner.test()
    assert isinstance(result, SearchResult) and result.epochs == 2
    assert all(c.resources['width'] <= 8 for c in result.candidates)
    assert (tmp_path / 'search_state.pkl').exists()
    calib = runner.build_dataloader(dict(LOADER, batch_size=50))
    images = [x for x, _ in zip((b[0] for b in calib), range(2))]
    assert len(seen) == len(result.candidates) >= 3
    assert len({(c['op'], c['width']) for c, _ in seen}) > 1  # several subnets calibrated
    for choices, got in seen:
        want = _calibration_stats(runner.model, images, choices)
        for name in want:
            for g, w in zip(got[name], want[name]):
                torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5, msg=f'{choices} {name}')
    again = _runner(tmp_path, **cfg).test()  # resumes from the finished state: same result
    assert again.best_choices == result.best_choices and len(again.candidates) == len(
        result.candidates)


def test_evolution_search_loop_resumed_mid_search_equals_a_straight_run(tmp_path, monkeypatch):
    # Kill the search right after epoch 1's checkpoint (of 2), start it again in the same work_dir:
    # it must resume from epoch 1 and end where an uninterrupted search ends.
    cfg = dict(test_dataloader=LOADER, train_dataloader=LOADER,
               test_cfg=dict(type='EvolutionSearchLoop', max_epochs=2, num_candidates=3, top_k=2,
                             num_mutation=1, num_crossover=1, calibrate_sample_num=100,
                             constraints_range=dict(width=(0, 8)),
                             estimator_cfg=lambda m: {'width': m.architecture.width.current_choice},
                             max_sample_attempts=200))
    straight = _runner(tmp_path / 'straight', **cfg).test()

    class Killed(Exception):
        pass

    saves = []
    real = evolution.atomic_write_bytes

    def write_then_die(path, data, *args, **kwargs):
        real(path, data, *args, **kwargs)
        saves.append(path)
        if len(saves) == 1:
            raise Killed

    monkeypatch.setattr(evolution, 'atomic_write_bytes', write_then_die)
    with pytest.raises(Killed):
        _runner(tmp_path / 'resumed', **cfg).test()
    later = []

    def counting(path, data, *args, **kwargs):
        later.append(path)
        real(path, data, *args, **kwargs)

    monkeypatch.setattr(evolution, 'atomic_write_bytes', counting)
    resumed = _runner(tmp_path / 'resumed', **cfg).test()
    assert len(later) == 1, 'a resumed search runs only the epochs left (here: epoch 2)'
    assert resumed.epochs == 2 == straight.epochs
    assert resumed.best_choices == straight.best_choices
    assert [(c.choices, c.score) for c in resumed.candidates] == [
        (c.choices, c.score) for c in straight.candidates]
