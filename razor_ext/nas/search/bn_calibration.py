"""BN recalibration: a subnet of a supernet needs its own BN statistics before it is scored."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

__all__ = ['recalibrate_bn', 'bn_calibrator']


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[Any],
                   forward: Callable[[nn.Module, Any], Any] | None = None) -> int:
    """Reset every BatchNorm's running stats and re-estimate them on ``batches``.

    The statistics become the exact average over the batches (momentum ``None`` while
    calibrating); each BN's momentum and the model's train/eval mode are restored afterwards.

    Args:
        model: the supernet with the candidate's choices already set.
        batches: inputs ``(N, ...)`` tensors, or ``(inputs, targets)`` pairs.
        forward: ``forward(model, batch)``; default calls ``model(inputs)``.

    Returns:
        the number of batches used.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
        >>> recalibrate_bn(net, [torch.randn(4, 1, 5, 5) + 3.0])
        1
        >>> bool(net[1].running_mean.abs().sum() > 0)
        True
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    was_training = model.training
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration batches
    model.train()
    count = 0
    try:
        for batch in batches:
            if forward is not None:
                forward(model, batch)
            else:
                model(batch[0] if isinstance(batch, (tuple, list)) else batch)
            count += 1
    finally:
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum
        model.train(was_training)
    return count


def bn_calibrator(batches: Iterable[Any], num_batches: int | None = None,
                  forward: Callable[[nn.Module, Any], Any] | None = None
                  ) -> Callable[[nn.Module], None]:
    """A ``calibrate_fn`` for :func:`evolution_search`: recalibrates BN on ``batches``.

    The first ``num_batches`` batches are materialised once, so every candidate is calibrated
    on the same data (reproducible scores, resumable searches).

    Example:
        >>> cal = bn_calibrator([torch.randn(4, 3)], num_batches=1)
        >>> cal(nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)))
    """
    fixed = []
    for i, batch in enumerate(batches):
        if num_batches is not None and i >= num_batches:
            break
        fixed.append(batch)
    if not fixed:
        raise ValueError('bn_calibrator: batches is empty')

    def calibrate(model: nn.Module) -> None:
        recalibrate_bn(model, fixed, forward)

    return calibrate
