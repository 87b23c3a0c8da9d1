"""mmcls's ``AutoAugment`` (one random sub-policy of fixed operations per image) and
``RandAugment`` (``num_policies`` random operations at a shared magnitude level)."""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from razor_ext.registry import TRANSFORMS


def _build_op(cfg: Mapping[str, Any], hparams: Mapping[str, Any], **extra: Any) -> Any:
    cfg = {**dict(hparams), **dict(cfg), **extra}
    kind = cfg.pop('type')
    op_cls = TRANSFORMS.get(kind)
    if op_cls is None:
        raise KeyError(f'augmentation {kind!r} is not registered in TRANSFORMS')
    accepted = {'prob', 'random_negative_prob', 'magnitude_range', 'pad_val', 'interpolation',
                'direction', 'magnitude', 'angle', 'thr', 'bits', 'center', 'scale'}
    return op_cls(**{k: v for k, v in cfg.items() if k in accepted})


@TRANSFORMS.register_module(name=['AutoAugment', 'mmcls.AutoAugment', 'mmrazor.AutoAugment',
                                  'AutoAugmentV2', 'mmrazor.AutoAugmentV2'])
class AutoAugment:
    """Apply one sub-policy (a list of operation dicts) chosen uniformly at random.

    ``policies``: a list of sub-policies (mmcls's ``'imagenet'`` name needs the table and is
    not shipped: pass the list). ``hparams`` (e.g. ``pad_val``) fill every operation.

    Example:
        >>> aug = AutoAugment(policies=[[dict(type='Invert', prob=1.0)]])
        >>> int(aug({'img': np.zeros((2, 2, 3), np.uint8)})['img'][0, 0, 0])
        255
    """

    def __init__(self, policies: Sequence[Sequence[Mapping[str, Any]]] | str,
                 hparams: Mapping[str, Any] | None = None) -> None:
        if isinstance(policies, str) or not policies:
            raise ValueError(f'AutoAugment: give policies as a non-empty list of sub-policies; '
                             f'the named policy {policies!r} is not shipped with razor_ext')
        self.policies = [[_build_op(op, hparams or {}) for op in sub] for sub in policies]

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        for op in random.choice(self.policies):
            results = op(results)
        return results


@TRANSFORMS.register_module(name=['RandAugment', 'mmcls.RandAugment'])
class RandAugment:
    """Apply ``num_policies`` operations drawn from ``policies``, each at magnitude
    ``level / total_level`` of its ``magnitude_range`` (level ~ N(magnitude_level, magnitude_std)).

    Example:
        >>> aug = RandAugment(policies=[dict(type='Invert')], num_policies=1, magnitude_level=9)
        >>> int(aug({'img': np.zeros((2, 2, 3), np.uint8)})['img'][0, 0, 0])
        255
    """

    def __init__(self, policies: Sequence[Mapping[str, Any]] | str, num_policies: int,
                 magnitude_level: float, magnitude_std: float | str = 0.0, total_level: float = 10,
                 hparams: Mapping[str, Any] | None = None) -> None:
        if isinstance(policies, str) or not policies:
            raise ValueError(f'RandAugment: give policies as a non-empty list; the named policy '
                             f'{policies!r} is not shipped with razor_ext')
        if num_policies <= 0:
            raise ValueError(f'num_policies must be positive, got {num_policies}')
        self.policies = [dict(p) for p in policies]
        self.num_policies, self.magnitude_level = num_policies, magnitude_level
        self.magnitude_std, self.total_level, self.hparams = magnitude_std, total_level, dict(hparams or {})

    def _level(self) -> float:
        level = self.magnitude_level
        if self.magnitude_std == 'inf':
            level = random.uniform(0, level)
        elif self.magnitude_std and float(self.magnitude_std) > 0:
            level = random.gauss(level, float(self.magnitude_std))
        return float(np.clip(level, 0, self.total_level))

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        for policy in random.choices(self.policies, k=self.num_policies):
            policy = dict(policy)
            extra: dict[str, Any] = {'prob': policy.pop('prob', 1.0)}
            low_high = policy.get('magnitude_range')
            if low_high is not None:
                low, high = low_high
                value = low + (high - low) * self._level() / self.total_level
                key = TRANSFORMS.get(policy['type']).magnitude_key
                extra[key] = int(value) if key in ('bits', 'thr') else value
            results = _build_op(policy, self.hparams, **extra)(results)
        return results
