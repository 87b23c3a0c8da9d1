"""Every file in configs/ loads and builds, and the built model trains one step."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from razor_ext import Config
from razor_ext.models.algorithms import BaseAlgorithm
from razor_ext.registry import MODELS

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_configs_folder_is_not_empty():
    assert CONFIGS


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_builds_and_trains_a_step(path):
    algo = MODELS.build(Config.fromfile(str(path)).model)
    assert isinstance(algo, BaseAlgorithm)
    x, y = torch.rand(4, 1, 32, 32), torch.randint(0, 10, (4,))
    log = algo.train_step((x, y), torch.optim.SGD(algo.parameters(), lr=0.01))
    assert set(log) >= {"loss"} and torch.isfinite(torch.tensor(log["loss"]))
    assert algo(x, mode="predict").shape == (4,)
