"""A fixed subnet config that inherits its NAS supernet's optimizer split (MMRazor's DSNAS
subnet): the ``mutator`` optimizer is dropped with a warning, the rest is built."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from razor_ext.algorithm import BaseAlgorithm
from razor_ext.engine.optimizers import build_optimizers

SPLIT = dict(constructor='mmrazor.SeparateOptimWrapperConstructor',
             architecture=dict(optimizer=dict(type='mmcls.SGD', lr=0.5, momentum=0.9)),
             mutator=dict(optimizer=dict(type='mmcls.Adam', lr=0.001)))


def test_mutator_optimizer_is_skipped_for_a_model_without_mutator():
    algo = BaseAlgorithm(nn.Linear(3, 2))
    with pytest.warns(UserWarning, match="no mutator"):
        opts = build_optimizers(algo, SPLIT)
    assert list(opts) == ['architecture'] and isinstance(opts['architecture'], torch.optim.SGD)
    log = algo.train_step((torch.randn(4, 3), torch.tensor([0, 1, 1, 0])), opts)
    assert set(log) == {'loss'}
    with pytest.raises(AttributeError):  # any other missing submodule is still an error
        build_optimizers(algo, dict(generator=dict(optimizer=dict(type='SGD', lr=0.1))))
