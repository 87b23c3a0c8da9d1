"""``save_weight_only`` / ``load_weight_only``: a GPTQ / RTN model as its float architecture plus
the list of quantized layers and the state dict (codes, scales, zeros), loaded without
recalibrating."""
from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from razor_ext.fileio import atomic_path
from razor_ext.hessian import set_module
from razor_ext.quantization.weight_only.linear import WeightOnlyQuantLinear

_FORMAT = "razor_ext.weight_only/1"


def save_weight_only(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Save a model quantized by :func:`gptq`: which layers are :class:`WeightOnlyQuantLinear`
    (with their bits / group size) and the state dict. Written atomically; loads with
    ``torch.load(weights_only=True)``.

    Example:
        >>> import tempfile, pathlib
        >>> from razor_ext.quantization import gptq
        >>> build = lambda: nn.Sequential(nn.Linear(64, 8))
        >>> q = gptq(build(), [torch.randn(32, 64)], group_size=32)
        >>> p = pathlib.Path(tempfile.mkdtemp()) / 'q.pt'
        >>> save_weight_only(q, p)
        >>> x = torch.randn(2, 64)
        >>> torch.equal(load_weight_only(build(), p)(x), q(x))
        True
    """
    layers = {name: dict(in_features=m.in_features, out_features=m.out_features, bits=m.bits,
                         group_size=m.group_size, bias=m.bias is not None)
              for name, m in model.named_modules() if isinstance(m, WeightOnlyQuantLinear)}
    if not layers:
        raise TypeError("save_weight_only: the model holds no WeightOnlyQuantLinear; run gptq() first")
    payload = dict(format=_FORMAT, layers=layers, state_dict=model.state_dict())
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_weight_only(float_model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """Swap the saved layers of ``float_model`` (the same architecture, modified in place) for
    :class:`WeightOnlyQuantLinear` and load the saved state dict. Returns ``float_model``."""
    payload: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(f"load_weight_only: {os.fspath(path)!r} is not a {_FORMAT} file")
    for name, spec in payload["layers"].items():
        try:
            old = float_model.get_submodule(name)
        except AttributeError:
            raise ValueError(f"load_weight_only: the model has no layer {name!r}") from None
        device = next(old.parameters()).device if any(True for _ in old.parameters()) else None
        set_module(float_model, name, WeightOnlyQuantLinear(**spec, device=device))
    float_model.load_state_dict(payload["state_dict"])
    return float_model
