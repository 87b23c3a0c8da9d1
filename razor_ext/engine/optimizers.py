"""Optimizers and LR schedulers from MMEngine-style config dicts (``optim_wrapper``,
``param_scheduler``), with any ``torch.optim`` class by name."""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


def _optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    name = name.split('.')[-1]  # OpenMMLab scopes: 'mmcls.SGD', 'torch.optim.SGD'
    cls = getattr(torch.optim, name, None)
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        known = sorted(n for n in dir(torch.optim) if isinstance(getattr(torch.optim, n), type)
                       and issubclass(getattr(torch.optim, n), torch.optim.Optimizer) and n != 'Optimizer')
        raise KeyError(f'optimizer type {name!r} is not a torch.optim optimizer; known: {known}')
    return cls


def build_optimizer(module: nn.Module, cfg: Mapping[str, Any]) -> torch.optim.Optimizer:
    """Build one optimizer over ``module``'s trainable parameters from an ``optim_wrapper`` entry.

    ``cfg`` is ``dict(optimizer=dict(type='SGD', lr=0.1, ...), paramwise_cfg=dict(...))``.
    ``paramwise_cfg`` supports ``norm_decay_mult`` / ``bias_decay_mult`` (weight decay of norm
    layers' parameters and of biases) and ``custom_keys={'name part': dict(lr_mult=, decay_mult=)}``.

    Example:
        >>> opt = build_optimizer(nn.Linear(2, 2), dict(optimizer=dict(type='AdamW', lr=1e-3)))
        >>> type(opt).__name__, opt.param_groups[0]['lr']
        ('AdamW', 0.001)
    """
    if 'optimizer' not in cfg:
        raise KeyError(f"optim_wrapper needs an 'optimizer' dict, got keys {sorted(cfg)}")
    opt_cfg = dict(cfg['optimizer'])
    cls = _optimizer_class(opt_cfg.pop('type'))
    paramwise = dict(cfg.get('paramwise_cfg') or {})
    base_lr, base_decay = opt_cfg.get('lr', 1e-3), opt_cfg.get('weight_decay', 0.0)
    if not paramwise:
        return cls([p for p in module.parameters() if p.requires_grad], **opt_cfg)
    norm_types = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
    norm_params = {id(p) for m in module.modules() if isinstance(m, norm_types) for p in m.parameters(False)}
    groups = []
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        lr, decay = base_lr, base_decay
        if id(param) in norm_params:
            decay *= paramwise.get('norm_decay_mult', 1.0)
        elif name.endswith('bias'):
            decay *= paramwise.get('bias_decay_mult', 1.0)
        for key, mults in paramwise.get('custom_keys', {}).items():
            if key in name:
                lr *= mults.get('lr_mult', 1.0)
                decay *= mults.get('decay_mult', 1.0)
        groups.append({'params': [param], 'lr': lr, 'weight_decay': decay, 'name': name})
    return cls(groups, **opt_cfg)


def build_optimizers(model: nn.Module, cfg: Mapping[str, Any]) -> Any:
    """One optimizer, or a dict of them for a dict ``optim_wrapper`` (e.g. NAS's weights and
    architecture parameters): ``dict(architecture=dict(optimizer=...), mutator=dict(optimizer=...))``
    builds one optimizer per named submodule of ``model``.

    Example:
        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.architecture, self.mutator = nn.Linear(2, 2), nn.Linear(2, 1)
        >>> opts = build_optimizers(Net(), dict(architecture=dict(optimizer=dict(type='SGD', lr=0.1)),
        ...                                     mutator=dict(optimizer=dict(type='Adam', lr=3e-4))))
        >>> sorted(opts)
        ['architecture', 'mutator']
    """
    if 'optimizer' in cfg:
        return build_optimizer(model, cfg)
    optimizers = {}
    for name, sub_cfg in cfg.items():
        if name == 'constructor':  # MMRazor names its constructor class; the behaviour is this one
            continue
        if name == 'mutator' and not hasattr(model, 'mutator'):
            # a fixed subnet config inherits its NAS supernet's optimizer split (MMRazor's
            # DSNAS subnet): a fixed subnet has no architecture parameters to optimise
            warnings.warn("optim_wrapper names a 'mutator' optimizer but the model has no "
                          'mutator (a fixed subnet): that optimizer is not built', stacklevel=2)
            continue
        sub = model.get_submodule(name) if name else model
        optimizers[name] = build_optimizer(sub, sub_cfg)
    if not optimizers:
        raise KeyError('optim_wrapper is empty: give optimizer=dict(...) or one entry per submodule')
    return optimizers


def build_schedulers(optimizer: Any, cfgs: Any, iters_per_epoch: int) -> list[tuple[Any, bool]]:
    """LR schedulers from ``param_scheduler`` (a dict or list of dicts) -> [(scheduler, by_epoch)].

    ``type`` is a ``torch.optim.lr_scheduler`` class name (MMEngine's ``...LR`` suffix is
    accepted: ``CosineAnnealingLR``, ``MultiStepLR``, ``LinearLR``...). ``by_epoch`` (default
    True) steps once an epoch; with ``convert_to_iter_based=True`` epoch counts are turned into
    iterations. ``begin``/``end`` are not supported (use ``SequentialLR``). With a dict of
    optimizers, ``{optimizer name: config(s)}`` schedules each optimizer on its own.
    """
    if cfgs is None:
        return []
    if isinstance(cfgs, Mapping) and 'type' not in cfgs and isinstance(optimizer, Mapping):
        # MMEngine's form for several optimizers: {optimizer name: scheduler config(s)}
        # (MMRazor's DFAD / ZSKT: architecture and generator).
        # 'mutator' is dropped by build_optimizers for a fixed subnet (its inherited schedule too)
        unknown = sorted(set(cfgs) - set(optimizer) - {'mutator'})
        if unknown:
            raise KeyError(f'param_scheduler names {unknown}, which are not optimizers; the '
                           f'optimizers are {sorted(optimizer)}')
        return [s for name, sub in cfgs.items() if name in optimizer
                for s in build_schedulers(optimizer[name], sub, iters_per_epoch)]
    cfgs = [cfgs] if isinstance(cfgs, Mapping) else list(cfgs)
    optimizers = list(optimizer.values()) if isinstance(optimizer, Mapping) else [optimizer]
    schedulers = []
    for cfg in cfgs:
        cfg = dict(cfg)
        name = cfg.pop('type')
        cls = getattr(torch.optim.lr_scheduler, name, None)
        if cls is None:
            raise KeyError(f'param_scheduler type {name!r} is not in torch.optim.lr_scheduler')
        by_epoch = cfg.pop('by_epoch', True)
        if cfg.pop('convert_to_iter_based', False) and by_epoch:
            for key in ('T_max', 'step_size', 'total_iters'):
                if key in cfg:
                    cfg[key] *= iters_per_epoch
            if 'milestones' in cfg:
                cfg['milestones'] = [m * iters_per_epoch for m in cfg['milestones']]
            by_epoch = False
        for key in ('begin', 'end'):
            if key in cfg:
                raise ValueError(f'param_scheduler {name}: {key!r} is not supported; use SequentialLR')
        schedulers += [(cls(opt, **cfg), by_epoch) for opt in optimizers]
    return schedulers


def scale_lr(optimizers: Any, auto_scale_lr: Mapping[str, Any] | None, world_size: int,
             batch_size: int) -> float:
    """MMEngine's ``auto_scale_lr`` (the linear scaling rule): multiply every param group's
    ``lr`` by ``world_size * batch_size / base_batch_size``; returns the factor (1.0 when off).

    ``auto_scale_lr=dict(enable=True, base_batch_size=256)``: the LR in the config was tuned
    for a total batch of ``base_batch_size``; this run's total batch is ``world_size`` ranks of
    ``batch_size`` each. Without ``enable=True`` nothing changes (MMRazor's configs carry
    ``auto_scale_lr = dict(base_batch_size=...)`` and leave it off, as MMEngine does). Call it
    before the LR schedulers are built, so that they start from the scaled LR.

    Example:
        >>> opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
        >>> scale_lr(opt, dict(enable=True, base_batch_size=64), world_size=2, batch_size=64)
        2.0
        >>> opt.param_groups[0]['lr']
        0.2
    """
    if not auto_scale_lr or not auto_scale_lr.get('enable', False):
        return 1.0
    base = auto_scale_lr.get('base_batch_size')
    if isinstance(base, bool) or not isinstance(base, int) or base < 1:
        raise ValueError(f'auto_scale_lr.base_batch_size must be a positive int, got {base!r}')
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f'auto_scale_lr needs the per-rank batch size (train_dataloader.batch_size), '
                         f'got {batch_size!r}')
    factor = world_size * batch_size / base
    for opt in (optimizers.values() if isinstance(optimizers, Mapping) else [optimizers]):
        for group in opt.param_groups:
            group['lr'] = group['lr'] * factor
    return factor
