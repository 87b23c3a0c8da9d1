"""Runner checkpoints are plain data (weights_only=True loads them) and still restore every RNG
exactly; older checkpoints with NumPy's RNG tuple resume too."""
from __future__ import annotations

import random

import numpy as np
import torch

from razor_ext.engine import Runner
from razor_ext.engine.randomness import rng_state, set_rng_state
from razor_ext.fileio import CHECKPOINT_FORMAT, load_checkpoint
from tests.engine.conftest import small_cfg


def _draws() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path) -> None:
    state = rng_state()
    expected = _draws()
    path = tmp_path / 'rng.pth'
    torch.save(state, path)
    set_rng_state(torch.load(path, weights_only=True))
    assert _draws() == expected


def test_older_numpy_tuple_state_still_restores() -> None:
    state = {'python': random.getstate(), 'numpy': np.random.get_state(), 'torch': torch.get_rng_state()}
    expected = _draws()
    set_rng_state(state)
    assert _draws() == expected


def test_a_runner_checkpoint_loads_with_plain_weights_only(tmp_path) -> None:
    runner = Runner.from_cfg(small_cfg(tmp_path, max_epochs=1))
    runner.train()
    checkpoint = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)
    assert checkpoint['meta']['format'] == CHECKPOINT_FORMAT
    assert checkpoint['meta']['loop']['epoch'] == 1
    assert isinstance(load_checkpoint(tmp_path / 'epoch_1.pth')['rng']['numpy']['keys'], torch.Tensor)


def test_resume_from_a_weights_only_file_takes_its_weights(tmp_path) -> None:
    from razor_ext.architectures import MnistCNN
    from razor_ext.fileio import save_checkpoint

    torch.manual_seed(1)
    net = MnistCNN(width=4)
    path = save_checkpoint({'state_dict': net.state_dict()}, tmp_path / 'student.pth')
    runner = Runner.from_cfg(small_cfg(tmp_path / 'run', max_epochs=1, resume=str(path)))
    for key, value in net.state_dict().items():
        assert torch.equal(runner.model.architecture.state_dict()[key], value), key
    assert runner.train_loop.epoch == 0
