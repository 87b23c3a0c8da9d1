"""What the OpenMMLab-style backbones here share: building a stage of searchable blocks,
checking ``out_indices`` / ``frozen_stages``, running the stages, and the train-mode rules
(frozen stages and ``norm_eval`` stay in eval mode)."""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from razor_ext.registry import MODELS


def build_stage(mutable_cfg: Mapping[str, Any], in_channels: int, out_channels: int,
                num_blocks: int, stride: int) -> nn.Sequential:
    """``num_blocks`` mutables built from ``mutable_cfg`` with ``module_kwargs`` (in/out channels,
    stride: the first block takes ``stride`` and ``in_channels``, the others 1 and
    ``out_channels``), as MMRazor's searchable backbones do.

    Example:
        >>> cfg = dict(type='OneShotMutableOP', candidates=dict(
        ...     k3=dict(type='ShuffleBlock', kernel_size=3)))
        >>> stage = build_stage(cfg, 8, 16, num_blocks=2, stride=2)
        >>> stage[0]._candidates['k3'].stride, stage[1]._candidates['k3'].in_channels
        (2, 16)
    """
    if not isinstance(mutable_cfg, Mapping):
        raise TypeError(f'mutable_cfg must be a config dict, got {type(mutable_cfg).__name__}')
    blocks = []
    for i in range(num_blocks):
        cfg = copy.deepcopy(dict(mutable_cfg))
        cfg['module_kwargs'] = {**dict(cfg.get('module_kwargs') or {}),
                                'in_channels': in_channels if i == 0 else out_channels,
                                'out_channels': out_channels, 'stride': stride if i == 0 else 1}
        blocks.append(MODELS.build(cfg))
    return nn.Sequential(*blocks)


def check_indices(out_indices: Sequence[int], frozen_stages: int, num_layers: int) -> None:
    """ValueError unless every out index and ``frozen_stages`` (-1 = none) fit ``num_layers``."""
    for index in out_indices:
        if index not in range(num_layers):
            raise ValueError(f'out_indices must be in range(0, {num_layers}), got {index}')
    if frozen_stages not in range(-1, num_layers):
        raise ValueError(f'frozen_stages must be in range(-1, {num_layers}), got {frozen_stages}')


def apply_train_rules(backbone: nn.Module, frozen: Sequence[nn.Module], norm_eval: bool,
                      mode: bool) -> None:
    """Frozen modules: eval mode, no gradients. ``norm_eval``: BN layers in eval mode when
    training (their running statistics stay as loaded)."""
    for m in frozen:
        m.eval()
        for p in m.parameters():
            p.requires_grad_(False)
    if mode and norm_eval:
        for m in backbone.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()


def forward_stages(stem: nn.Module, layers: Sequence[nn.Module], x: Tensor,
                   out_indices: Sequence[int]) -> tuple[Tensor, ...]:
    """Run ``stem`` then each layer; return the outputs of the layers in ``out_indices``.

    Example:
        >>> import torch
        >>> outs = forward_stages(nn.Identity(), [nn.ReLU(), nn.Tanh()], torch.ones(1), (0, 1))
        >>> [round(o.item(), 3) for o in outs]
        [1.0, 0.762]
    """
    x = stem(x)
    outs = []
    for i, layer in enumerate(layers):
        x = layer(x)
        if i in out_indices:
            outs.append(x)
    return tuple(outs)
