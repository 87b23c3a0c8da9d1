"""Load, build and train one step on a config in MMRazor's layout: shared by the tests that walk
MMRazor's own configs (``MMRAZOR_ROOT``) and the configs written in the tests."""
from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from razor_ext import Config
from razor_ext.algorithm import BaseAlgorithm
from razor_ext.engine.model_defaults import model_with_defaults
from razor_ext.engine.optimizers import build_optimizers
from razor_ext.registry import MODELS

# The classification folders of MMRazor's configs/ (detection, segmentation and pose are not).
SCOPE = ('distill/mmcls', 'nas/mmcls', 'pruning/mmcls', 'pruning/base', 'quantization',
         'vanilla/mmcls', '_base_')


def num_classes_of(cfg: Any) -> int:
    """The class count a config's model heads use (for random labels)."""
    found: list[int] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if isinstance(node.get('num_classes'), int):
                found.append(node['num_classes'])
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)
    walk(cfg.get('model'))
    return min(found) if found else 10


def input_size_of(path: str, cfg: Any) -> int:
    """32 for CIFAR configs, else a small ImageNet size (224 for ViTs, whose patch grid is fixed)."""
    text = path.lower() + str(cfg.get('train_dataloader', '')).lower()
    if 'cifar' in text:
        return 32
    model = str(cfg.get('model', ''))
    return 224 if 'VisionTransformer' in model or 'Autoformer' in model else 64


def strip_downloads(node: Any) -> Any:
    """``node`` without download URLs: ``teacher_ckpt`` / ``checkpoint`` URLs (and a
    ``teacher_ckpt`` file that is not there: CRD's names a download by its bare file name)
    become None and ``Pretrained`` init configs pointing at URLs are dropped (razor_ext runs offline; the walk
    checks configs, not published weights)."""
    if isinstance(node, Mapping):
        if node.get('type') == 'Pretrained' and str(node.get('checkpoint', '')).startswith('http'):
            return None
        return {k: (None if isinstance(v, str) and (v.startswith(('http://', 'https://')) or (
                        k == 'teacher_ckpt' and not Path(v).exists()))
                    else strip_downloads(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [strip_downloads(v) for v in node]
    return node


def train_one_step(cfg: Config, size: int, batch: int = 2) -> dict[str, float]:
    """Build ``cfg.model`` and run one ``train_step`` on a random ``batch x 3 x size x size``."""
    model = MODELS.build(strip_downloads(copy.deepcopy(model_with_defaults(cfg.to_dict()))))
    algo = model if isinstance(model, BaseAlgorithm) else BaseAlgorithm(model)
    algo.train()
    optim_cfg = cfg.get('optim_wrapper') or {'optimizer': {'type': 'SGD', 'lr': 0.01}}
    optimizer = build_optimizers(algo, copy.deepcopy(dict(optim_cfg)))
    n = num_classes_of(cfg)

    def random_batch() -> dict[str, Any]:
        return {'inputs': torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8),
                # sample_idx: every packed mmcls sample carries it (CRD's loss indexes its memory by it)
                'data_samples': [{'gt_label': torch.tensor([i % n]), 'sample_idx': i}
                                 for i in range(batch)]}

    data: Any = random_batch()
    loop = str((cfg.get('train_cfg') or {}).get('type', ''))
    if loop.split('.')[-1] in ('DartsEpochBasedTrainLoop', 'DartsIterBasedTrainLoop'):
        data = (data, random_batch())  # DARTS's loops pair a supernet and a mutator batch
    return algo.train_step(data, optimizer)


def check_config(path: str | Path) -> str:
    """``'trains'`` or raises the first error of load / build / one train step."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        cfg = Config.fromfile(path)
        if not isinstance(cfg.get('model'), Mapping):
            return 'loads (no model)'
        logs = train_one_step(cfg, input_size_of(str(path), cfg))
    if not all(torch.isfinite(torch.tensor(float(v))) for v in logs.values()):
        raise FloatingPointError(f'non-finite losses {logs}')
    return 'trains'


__all__ = ['SCOPE', 'check_config', 'nn', 'train_one_step']
