"""EvolutionSearchLoop and SubnetValLoop run under the Runner on a tiny supernet."""
from __future__ import annotations

import pytest
import torch

from razor_ext.engine import Runner
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


def test_evolution_search_loop_with_bn_calibration_resumes(tmp_path):
    cfg = dict(test_dataloader=LOADER, train_dataloader=LOADER,
               test_cfg=dict(type='EvolutionSearchLoop', max_epochs=2, num_candidates=3, top_k=2,
                             num_mutation=1, num_crossover=1, calibrate_sample_num=100,
                             constraints_range=dict(width=(0, 8)),
                             estimator_cfg=lambda m: {'width': m.architecture.width.current_choice},
                             max_sample_attempts=200))
    result = _runner(tmp_path, **cfg).test()
    assert isinstance(result, SearchResult) and result.epochs == 2
    assert all(c.resources['width'] <= 8 for c in result.candidates)
    assert (tmp_path / 'search_state.pkl').exists()
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
