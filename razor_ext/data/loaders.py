"""Data loaders from config dicts: ``dict(batch_size, dataset=dict(type=...), sampler=...)``."""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from razor_ext.registry import DATASETS


class EpochSeededSampler(Sampler[int]):
    """Shuffle with a generator seeded by ``seed + epoch``: the order of any epoch can be made
    again, which is what lets a resumed run skip exactly the batches it already trained on.

    With ``num_replicas > 1`` (a data-parallel run) every rank draws the same epoch order and
    takes every ``num_replicas``-th index from position ``rank`` on, the order padded by
    wrapping round to a multiple of ``num_replicas`` (``DistributedSampler``'s split), so the
    ranks see disjoint shards of equal length that change every epoch.

    Example:
        >>> s = EpochSeededSampler(range(5), shuffle=True, seed=1)
        >>> s.set_epoch(3); a = list(s); s.set_epoch(3); a == list(s)
        True
        >>> shards = [list(EpochSeededSampler(range(6), seed=1, num_replicas=2, rank=r)) for r in (0, 1)]
        >>> sorted(shards[0] + shards[1])
        [0, 1, 2, 3, 4, 5]
    """

    def __init__(self, dataset: Any, shuffle: bool = True, seed: int = 0, num_replicas: int = 1,
                 rank: int = 0) -> None:
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f'need 0 <= rank < num_replicas, got rank={rank}, num_replicas={num_replicas}')
        self.length, self.shuffle, self.seed, self.epoch = len(dataset), shuffle, seed, 0
        self.num_replicas, self.rank = num_replicas, rank

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            order = list(range(self.length))
        else:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.length, generator=g).tolist()
        if self.num_replicas == 1:
            return iter(order)
        total = len(self) * self.num_replicas
        padded = (order * (total // max(len(order), 1) + 1))[:total] if order else []
        return iter(padded[self.rank::self.num_replicas])

    def __len__(self) -> int:
        return -(-self.length // self.num_replicas)


def build_dataset(cfg: Mapping[str, Any] | Dataset) -> Dataset:
    """A dataset from ``dict(type=..., **kwargs)``; ``type`` is a name in ``DATASETS`` or an
    import path ``'package.module:Class'`` (or ``'package.module.Class'``) of any Dataset.

    Example:
        >>> len(build_dataset(dict(type='EmbeddedDigits', split='val')))
        500
    """
    if isinstance(cfg, Dataset):
        return cfg
    cfg = dict(cfg)
    kind = cfg.get('type')
    if isinstance(kind, str) and DATASETS.get(kind) is None and ('.' in kind or ':' in kind):
        module_name, _, attr = kind.replace(':', '.').rpartition('.')
        try:
            cfg['type'] = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as err:
            raise KeyError(f'dataset type {kind!r}: cannot import it ({err})') from err
    return DATASETS.build(cfg)


def build_dataloader(cfg: Mapping[str, Any] | DataLoader, seed: int = 0, num_replicas: int = 1,
                     rank: int = 0) -> DataLoader:
    """A ``DataLoader`` from an MMEngine-style dict.

    Keys: ``dataset`` (a config dict or Dataset), ``batch_size``, ``num_workers`` (default 0),
    ``sampler=dict(type='DefaultSampler', shuffle=True)`` (or ``shuffle=``), ``drop_last``.
    The default sampler is :class:`EpochSeededSampler` (seeded by ``seed`` and the epoch);
    ``num_replicas``/``rank`` make it yield this rank's shard (data-parallel training).

    Example:
        >>> loader = build_dataloader(dict(batch_size=100, dataset=dict(type='EmbeddedDigits', split='val')))
        >>> len(loader)
        5
    """
    if isinstance(cfg, DataLoader):
        return cfg
    cfg = dict(cfg)
    if 'dataset' not in cfg:
        raise KeyError(f"a dataloader config needs a 'dataset', got keys {sorted(cfg)}")
    dataset = build_dataset(cfg.pop('dataset'))
    sampler_cfg = dict(cfg.pop('sampler', None) or {})
    shuffle = sampler_cfg.get('shuffle', cfg.pop('shuffle', False))
    sampler = EpochSeededSampler(dataset, shuffle=shuffle, seed=sampler_cfg.get('seed', seed),
                                 num_replicas=num_replicas, rank=rank)
    cfg.pop('persistent_workers', None)  # MMEngine key; meaningless with num_workers=0
    cfg.pop('collate_fn', None)
    # Pipeline data sets (mmcls's) batch their packed samples themselves.
    collate = getattr(dataset, 'collate_fn', None)
    if callable(collate):
        cfg['collate_fn'] = collate
    return DataLoader(dataset, sampler=sampler, batch_size=cfg.pop('batch_size', 1),
                      num_workers=cfg.pop('num_workers', 0), drop_last=cfg.pop('drop_last', False), **cfg)
