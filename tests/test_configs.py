"""Every config in configs/ loads and builds; model-only configs train a step, runner configs
(with train_cfg) run a few iterations on the embedded data."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from razor_ext import Config
from razor_ext.engine import Runner
from razor_ext.algorithm import BaseAlgorithm
from razor_ext.registry import MODELS

ROOT = Path(__file__).resolve().parents[1] / "configs"
CONFIGS = sorted(p for p in ROOT.rglob("*") if p.suffix in (".py", ".yaml", ".json") and "_base_" not in p.parts)


def test_configs_folder_is_not_empty():
    assert CONFIGS


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_config_builds_and_trains(path, tmp_path):
    cfg = Config.fromfile(str(path))
    if cfg.get("train_cfg") is None:
        algo = MODELS.build(cfg.model)
        assert isinstance(algo, BaseAlgorithm)
        x = torch.rand(*cfg.get("example_input_shape", (4, 1, 32, 32)))
        y = torch.randint(0, 10, (x.shape[0],))
        log = algo.train_step((x, y), torch.optim.SGD(algo.parameters(), lr=0.01))
        assert set(log) >= {"loss"} and torch.isfinite(torch.tensor(log["loss"]))
        return
    cfg["work_dir"] = str(tmp_path)
    cfg["default_hooks"]["logger"]["console"] = False
    training = cfg.train_cfg.get("type", "EpochBasedTrainLoop") in ("EpochBasedTrainLoop", "IterBasedTrainLoop")
    if training:
        cfg["train_cfg"] = dict(type="IterBasedTrainLoop", max_iters=3, val_interval=3)
    elif "mutator_dataloader" in cfg.train_cfg:  # DARTS loops: two loaders, keep the second
        training = True
        cfg["train_cfg"] = dict(type="DartsIterBasedTrainLoop", max_iters=3, val_interval=3,
                                mutator_dataloader=cfg.train_cfg["mutator_dataloader"])
    cfg["train_dataloader"]["dataset"]["split"] = "val"  # small and quick
    runner = Runner.from_cfg(cfg)
    runner.train()
    if training:
        assert (tmp_path / "log.jsonl").is_file()
    metrics = runner.val()
    assert 0.0 <= metrics["accuracy/top1"] <= 100.0
