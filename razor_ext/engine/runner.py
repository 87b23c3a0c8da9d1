"""``Runner``: builds a model, data, optimizers, loops and hooks from one config and runs them."""
from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from razor_ext.config import Config
from razor_ext.data.loaders import build_dataloader
from razor_ext.engine.distributed import (DataParallelContext, convert_sync_batchnorm, default_device,
                                          init_distributed)
from razor_ext.engine.evaluator import Accuracy
from razor_ext.engine.hooks.hook import Hook
from razor_ext.engine.model_defaults import model_with_defaults
from razor_ext.engine.optimizers import build_optimizers, build_schedulers, scale_lr
from razor_ext.engine.randomness import rng_state, set_random_seed, set_rng_state
from razor_ext.fileio import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from razor_ext.algorithm import BaseAlgorithm, load_weights
from razor_ext.registry import HOOKS, LOOPS, METRICS, MODELS

_DEFAULT_HOOKS = {'logger': dict(type='LoggerHook'), 'checkpoint': dict(type='CheckpointHook'),
                  'progress': dict(type='ProgressBarHook')}


class Runner:
    """Everything one run needs, built from an MMEngine/MMRazor-style config.

    Config keys (MMEngine's vocabulary): ``model`` (a MODELS dict or module; a model that is not
    a :class:`BaseAlgorithm` is wrapped in one), ``work_dir``, ``train_dataloader``,
    ``val_dataloader``, ``test_dataloader``, ``optim_wrapper``, ``param_scheduler``,
    ``train_cfg`` / ``val_cfg`` / ``test_cfg`` (loops by ``type``, e.g. ``EpochBasedTrainLoop``),
    ``val_evaluator`` / ``test_evaluator`` (default top-1/top-5 :class:`Accuracy`),
    ``default_hooks`` / ``custom_hooks``, ``load_from``, ``resume``, ``randomness=dict(seed,
    deterministic)``, ``device``, ``launcher`` (``'none'`` or ``'pytorch'``: data-parallel under
    ``torchrun``, see ``docs/distributed.md``) and ``sync_bn`` (BatchNorm over the global batch).

    Example:
        >>> import tempfile
        >>> cfg = dict(model=dict(type='MnistCNN', width=4), work_dir=tempfile.mkdtemp(),
        ...            val_dataloader=dict(batch_size=250, dataset=dict(type='EmbeddedDigits', split='val')),
        ...            val_cfg=dict(type='ValLoop'))
        >>> metrics = Runner.from_cfg(cfg).val()  # doctest: +ELLIPSIS
        [val] accuracy/top1: ... loss: ...
        >>> sorted(metrics)
        ['accuracy/top1', 'accuracy/top5', 'loss']
    """

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        self.cfg = cfg
        self.dist_info = init_distributed(cfg.get('launcher') or 'none')
        self.work_dir = Path(cfg.get('work_dir') or './work_dirs/run')
        self.work_dir.mkdir(parents=True, exist_ok=True)
        randomness = dict(cfg.get('randomness') or {})
        self.seed = int(randomness.get('seed', 0) if randomness.get('seed') is not None else 0)
        # The same seed on every rank: every rank draws the same subnet at every step (the
        # shared seed stream), while the data sampler shards the batches between ranks.
        set_random_seed(self.seed, bool(randomness.get('deterministic', False)))
        self.device = torch.device(cfg.get('device') or default_device(self.dist_info))
        self.model = self._build_model(model_with_defaults(cfg)).to(self.device)
        if cfg.get('sync_bn') and self.dist_info.distributed:
            self.model = convert_sync_batchnorm(self.model, self.device)
        self.hooks: list[Hook] = []
        hooks_cfg = {**_DEFAULT_HOOKS, **dict(cfg.get('default_hooks') or {})}
        for hook_cfg in [h for h in hooks_cfg.values() if h is not None] + list(cfg.get('custom_hooks') or []):
            self.register_hook(hook_cfg)
        self.train_loop = self.val_loop = self.test_loop = None
        self.optim_wrapper: Any = None
        self.lr_scale = 1.0  # auto_scale_lr's factor
        self.schedulers: list[tuple[Any, bool]] = []
        if cfg.get('val_cfg') is not None and cfg.get('val_dataloader') is not None:
            self.val_loop = self._build_loop(cfg['val_cfg'], cfg['val_dataloader'], 'ValLoop',
                                             evaluator=cfg.get('val_evaluator'))
        if cfg.get('test_cfg') is not None and cfg.get('test_dataloader') is not None:
            self.test_loop = self._build_loop(cfg['test_cfg'], cfg['test_dataloader'], 'TestLoop',
                                              evaluator=cfg.get('test_evaluator'))
        if cfg.get('train_cfg') is not None:
            if cfg.get('train_dataloader') is None:
                raise KeyError('train_cfg is set but train_dataloader is missing')
            self.train_loop = self._build_loop(cfg['train_cfg'], cfg['train_dataloader'],
                                               'EpochBasedTrainLoop')
            if cfg.get('optim_wrapper') is not None:
                self.optim_wrapper = build_optimizers(self.model, cfg['optim_wrapper'])
                dataloader = getattr(self.train_loop, 'dataloader', None)
                batch = self._rank_batch_size(cfg['train_dataloader'], dataloader)
                self.lr_scale = scale_lr(self.optim_wrapper, cfg.get('auto_scale_lr'), self.world_size, batch)
                if self.lr_scale != 1.0 and self.is_main_process:
                    print(f"auto_scale_lr: learning rates x{self.lr_scale:g} (total batch {self.world_size} x "
                          f"{batch}, base_batch_size {cfg['auto_scale_lr']['base_batch_size']})")
                self.schedulers = build_schedulers(self.optim_wrapper, cfg.get('param_scheduler'),
                                                   len(dataloader) if dataloader is not None else 1)
        self.data_parallel: DataParallelContext | None = None
        if self.dist_info.distributed:
            self.data_parallel = DataParallelContext(self.model).attach(self.optim_wrapper)
        if cfg.get('load_from') and not cfg.get('resume'):
            self.load_checkpoint(cfg['load_from'], weights_only=True)
        if cfg.get('resume'):
            self.resume(None if cfg.get('resume') is True else cfg['resume'])

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any] | str | os.PathLike[str]) -> Runner:
        """Build a runner from a config dict, a :class:`~razor_ext.Config` or a config file path."""
        if isinstance(cfg, (str, os.PathLike)):
            cfg = Config.fromfile(str(cfg))
        if not isinstance(cfg, Mapping):
            raise TypeError(f'Runner.from_cfg takes a config dict or path, got {type(cfg).__name__}')
        if 'model' not in cfg:
            raise KeyError("the config has no 'model'")
        return cls(cfg)

    # ------------------------------------------------------------------ building
    def _build_model(self, cfg: Any) -> nn.Module:
        model = cfg if isinstance(cfg, nn.Module) else MODELS.build(copy.deepcopy(dict(cfg)))
        model = model if isinstance(model, BaseAlgorithm) else BaseAlgorithm(model)
        if getattr(model, 'init_cfg', None) is not None:
            model.init_weights()  # init_cfg=dict(type='Pretrained', checkpoint=...), as MMEngine
        return model

    def _build_loop(self, cfg: Any, dataloader: Any, default_type: str, **extra: Any) -> Any:
        if not isinstance(cfg, Mapping):
            return cfg  # an already built loop
        cfg = dict(cfg)
        if 'by_epoch' in cfg:
            # MMEngine's train_cfg=dict(by_epoch=..., max_epochs=...) names the loop by a flag.
            by_epoch = cfg.pop('by_epoch')
            cfg.setdefault('type', 'EpochBasedTrainLoop' if by_epoch else 'IterBasedTrainLoop')
        cfg.setdefault('type', default_type)
        loop_cls = LOOPS.get(cfg['type']) if isinstance(cfg['type'], str) else cfg['type']
        if loop_cls is None:
            raise LOOPS._unknown_name_error(cfg['type'])
        import inspect
        accepted = inspect.signature(loop_cls).parameters
        for key, value in extra.items():
            if key in accepted and key not in cfg:
                cfg[key] = value
        return LOOPS.build(cfg, runner=self, dataloader=dataloader)

    @staticmethod
    def _rank_batch_size(cfg: Any, dataloader: Any) -> Any:
        """The batch of one rank's step, as MMEngine reads it for ``auto_scale_lr``."""
        if isinstance(cfg, Mapping) and 'batch_size' in cfg:
            return cfg['batch_size']
        return getattr(dataloader, 'batch_size', None)

    @property
    def rank(self) -> int:
        return self.dist_info.rank

    @property
    def world_size(self) -> int:
        return self.dist_info.world_size

    @property
    def is_main_process(self) -> bool:
        """True on rank 0, the only rank that logs and writes checkpoints, subnets and reports."""
        return self.dist_info.is_main

    def build_dataloader(self, cfg: Mapping[str, Any] | DataLoader, shard: bool = False) -> DataLoader:
        """A loader from its config; ``shard=True`` (training loops) gives each rank its own
        part of every epoch's shuffled order (a ``DistributedSampler``'s split)."""
        if shard and self.dist_info.distributed:
            return build_dataloader(cfg, seed=self.seed, num_replicas=self.world_size, rank=self.rank)
        return build_dataloader(cfg, seed=self.seed)

    def build_evaluator(self, cfg: Any) -> Any:
        if cfg is None:
            return Accuracy()
        if isinstance(cfg, Mapping):
            return METRICS.build(dict(cfg))
        return cfg

    def register_hook(self, hook: Hook | Mapping[str, Any]) -> None:
        if isinstance(hook, Mapping):
            hook = HOOKS.build(dict(hook))
        self.hooks.append(hook)
        self.hooks.sort(key=lambda h: getattr(h, 'priority', 50))

    def call_hook(self, point: str, **kwargs: Any) -> None:
        for hook in self.hooks:
            if getattr(hook, 'rank_zero_only', False) and not self.is_main_process:
                continue
            getattr(hook, point, lambda *a, **k: None)(self, **kwargs)

    # ------------------------------------------------------------------ running
    def train(self) -> nn.Module:
        """Run the training loop (with validation as ``train_cfg`` says); returns the model."""
        if self.train_loop is None:
            raise RuntimeError('this runner has no train_cfg/train_dataloader: nothing to train')
        # Search and calibration loops in train_cfg (MMRazor's convention) need no optimizer.
        if self.optim_wrapper is None and self.train_loop.needs_optimizer:
            raise RuntimeError('training needs an optim_wrapper in the config')
        self.call_hook('before_run')
        model = self.train_loop.run()
        self.call_hook('after_run')
        return model

    def val(self) -> dict[str, float]:
        if self.val_loop is None:
            raise RuntimeError('this runner has no val_cfg/val_dataloader')
        return self.val_loop.run()

    def test(self) -> dict[str, float]:
        if self.test_loop is None:
            raise RuntimeError('this runner has no test_cfg/test_dataloader')
        return self.test_loop.run()

    @staticmethod
    def set_epoch(dataloader: Any, epoch: int) -> None:
        sampler = getattr(dataloader, 'sampler', None)
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(epoch)

    def step_schedulers(self, by_epoch: bool) -> None:
        for scheduler, sched_by_epoch in self.schedulers:
            if sched_by_epoch == by_epoch:
                scheduler.step()

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self.optim_wrapper is None:
            return {}
        if isinstance(self.optim_wrapper, Mapping):
            return dict(self.optim_wrapper)
        return {'': self.optim_wrapper}

    def current_lr(self) -> float:
        for opt in self._optimizers().values():
            return float(opt.param_groups[0]['lr'])
        return 0.0

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, filename: str, extra_meta: Mapping[str, Any] | None = None) -> Path:
        """Write ``work_dir/filename`` atomically: model, optimizers, schedulers, loop, RNG.

        Plain data only (tensors, numbers, strings), so it loads with ``weights_only=True``
        everywhere a checkpoint is taken (:func:`razor_ext.algorithm.load_weights`)."""
        state = {
            'meta': {'format': CHECKPOINT_FORMAT, 'model': type(self.model).__name__,
                     'loop': self.train_loop.state_dict() if hasattr(self.train_loop, 'state_dict') else {},
                     'seed': self.seed, **dict(extra_meta or {})},
            'state_dict': self.model.state_dict(),
            'optimizer': {k: o.state_dict() for k, o in self._optimizers().items()},
            'param_schedulers': [s.state_dict() for s, _ in self.schedulers],
            'rng': rng_state(),
        }
        return save_checkpoint(state, self.work_dir / filename)

    def load_checkpoint(self, path: str | os.PathLike[str], weights_only: bool = True) -> dict[str, Any]:
        """Load a checkpoint's model weights (``load_from``); returns the whole checkpoint.

        Any file a razor_ext command writes fits (prefixes such as ``architecture.`` are fitted
        by :func:`razor_ext.algorithm.load_weights`); a mismatch raises one line naming the keys.
        ``weights_only`` is kept for compatibility: files are always read with
        ``weights_only=True`` (see :func:`razor_ext.fileio.load_checkpoint` for older files)."""
        checkpoint = load_checkpoint(path, map_location=self.device)
        load_weights(self.model, checkpoint, name=str(path))
        return checkpoint

    def resume(self, path: str | os.PathLike[str] | None = None) -> None:
        """Continue from ``path`` or from ``work_dir/last_checkpoint``: weights, optimizers,
        schedulers, loop position and RNG states. Nothing to resume from is not an error: the run
        starts from scratch (MMEngine does the same)."""
        if path is None:
            marker = self.work_dir / 'last_checkpoint'
            if not marker.is_file():
                return
            path = self.work_dir / marker.read_text().strip()
        checkpoint = self.load_checkpoint(path)
        for key, opt in self._optimizers().items():
            if key in checkpoint.get('optimizer', {}):
                opt.load_state_dict(checkpoint['optimizer'][key])
        for (scheduler, _), state in zip(self.schedulers, checkpoint.get('param_schedulers', [])):
            scheduler.load_state_dict(state)
        # A weights-only file (student.pth, best_subnet.pth) resumes its weights and nothing else.
        loop_state = checkpoint.get('meta', {}).get('loop')
        if loop_state and self.train_loop is not None and hasattr(self.train_loop, 'load_state_dict'):
            self.train_loop.load_state_dict(loop_state)
        if 'rng' in checkpoint:
            set_rng_state(checkpoint['rng'])
