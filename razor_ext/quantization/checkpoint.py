"""``save`` / ``load``: a prepared model as a small recipe + weights + qparams (no recalibration)."""
from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from razor_ext.fileio import load_checkpoint, save_checkpoint
from razor_ext.quantization.prepare import prepare
from razor_ext.quantization.qconfig import as_qconfig

__all__ = ['save', 'load']

_FORMAT = 'razor_ext.quantized/1'


def save(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Save a prepared model: its recipe (qconfig, mode, skip, input shapes) and state dict.

    Written atomically; loads with ``torch.load(weights_only=True)``.

    Example:
        >>> import tempfile, pathlib
        >>> from razor_ext.quantization import prepare, calibrate
        >>> float_model = nn.Sequential(nn.Linear(4, 2))
        >>> q = calibrate(prepare(float_model, torch.randn(1, 4)), [torch.randn(8, 4)])
        >>> p = pathlib.Path(tempfile.mkdtemp()) / 'q.pt'
        >>> save(q, p)
        >>> x = torch.randn(3, 4)
        >>> torch.equal(load(float_model, p)(x), q(x))
        True
    """
    recipe = getattr(model, 'razor_quant_recipe', None)
    if recipe is None:
        raise TypeError('save: the model has no quantization recipe; save a model from prepare()')
    payload = dict(format=_FORMAT, recipe=recipe, state_dict=model.state_dict())
    save_checkpoint(payload, path)


def load(float_model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """Re-prepare ``float_model`` from the saved recipe and load weights and qparams.

    ``float_model`` is the same architecture the saved model was prepared from (its weights are
    replaced by the saved ones; it is not modified).
    """
    payload: dict[str, Any] = load_checkpoint(path)
    if not isinstance(payload, dict) or payload.get('format') != _FORMAT:
        raise ValueError(f'{path} is not a razor_ext quantized checkpoint ({_FORMAT})')
    recipe = payload['recipe']
    examples = tuple(torch.zeros(spec['shape'], dtype=getattr(torch, spec['dtype']))
                     for spec in recipe['inputs'])
    skip = []
    for item in recipe['skip']:
        if item.startswith('type:'):
            from razor_ext.quantization.qconfig import _resolve_type
            skip.append(_resolve_type(item[5:]))
        else:
            skip.append(item)
    model = prepare(float_model, examples, qconfig=as_qconfig(recipe['qconfig']), mode=recipe['mode'],
                    skip=skip, backend=recipe['quantizer'], fold_bn=recipe['fold_bn'])
    model.load_state_dict(payload['state_dict'], strict=True)
    return model
