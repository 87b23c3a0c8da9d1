"""Checkpoint files load with weights_only=True; older files with NumPy RNG state load through
the documented fallback; anything else is refused in one line that says how to trust the file."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from razor_ext.fileio import CheckpointError, check_plain, load_checkpoint, save_checkpoint


class Custom:
    pass


def test_round_trip_is_weights_only_loadable(tmp_path: Path) -> None:
    payload = {'state_dict': {'w': torch.arange(3.)}, 'meta': {'epoch': 2, 'lr': [1e-3], 'ok': (True, None)},
               'optimizer': {0: {'step': torch.tensor(1.)}}}
    path = save_checkpoint(payload, tmp_path / 'c.pth')
    loaded = torch.load(path, weights_only=True)  # plain torch, no allow-list
    assert torch.equal(loaded['state_dict']['w'], payload['state_dict']['w'])
    assert load_checkpoint(path)['meta'] == payload['meta']


@pytest.mark.parametrize('bad, where', [({'meta': {'rng': np.zeros(2)}}, 'meta.rng'),
                                        ({'a': [1, Custom()]}, 'a[1]'),
                                        ({'s': {1.5: 2}}, 'key 1.5')])
def test_save_refuses_what_weights_only_would_refuse_naming_it(tmp_path: Path, bad: dict, where: str) -> None:
    with pytest.raises(TypeError, match=where.replace('[', r'\[').replace(']', r'\]')):
        save_checkpoint(bad, tmp_path / 'c.pth')
    assert not (tmp_path / 'c.pth').exists()


def test_older_file_with_numpy_rng_state_loads_through_the_fallback(tmp_path: Path) -> None:
    path = tmp_path / 'old.pth'
    saved = np.random.get_state()
    torch.save({'state_dict': {'w': torch.ones(1)}, 'rng': {'numpy': saved}}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    state = load_checkpoint(path)['rng']['numpy']
    assert state[0] == 'MT19937' and state[1].dtype == np.uint32
    assert np.array_equal(state[1], saved[1]) and state[2] == saved[2]


def test_a_file_with_other_objects_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / 'evil.pth'
    torch.save({'x': Custom()}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert '\n' not in message and 'Custom' in message and 'trusted=True' in message
    assert isinstance(load_checkpoint(path, trusted=True)['x'], Custom)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_checkpoint(tmp_path / 'nope.pth')


def test_check_plain_accepts_torch_scalars_and_nesting() -> None:
    check_plain({'a': (torch.float32, torch.device('cpu'), torch.Size([2]), [{'b': 1}])})
