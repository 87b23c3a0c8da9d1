"""``prepare`` and ``calibrate``: the functional front of the quantizers."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.quantization.qconfig import QConfig
from razor_ext.quantization.switches import fake_quants
from razor_ext.registry import MODELS

__all__ = ['prepare', 'calibrate']


def prepare(model: nn.Module, example_inputs: Tensor | tuple[Tensor, ...],
            qconfig: QConfig | str | Mapping[str, Any] = 'int8_per_channel', mode: str = 'ptq',
            skip: Iterable[str | type[nn.Module]] = (), backend: str = 'NativeQuantizer',
            fold_bn: bool = True) -> nn.Module:
    """A fake-quantized copy of ``model``; ``model`` itself is never modified.

    Args:
        model: a ``torch.fx``-traceable module (skipped modules are not traced into).
        example_inputs: ``(B, ...)`` tensor or tuple of tensors.
        qconfig: a :class:`QConfig`, a preset name (``'int8'``, ``'int8_per_channel'``,
            ``'w4a8'``, ``'lsq_w4a8'``...) or a dict.
        mode: ``'ptq'`` (then :func:`calibrate`) or ``'qat'`` (train it; observers run in training).
        skip: module names or types that stay float.
        backend: quantizer name in ``MODELS``: ``'NativeQuantizer'`` (onnxruntime),
            ``'TensorRTQuantizer'``, ``'OpenVINOQuantizer'``.
        fold_bn: fold BatchNorm into the conv before it.

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> q = prepare(model, torch.randn(2, 4))
        >>> _ = calibrate(q, [torch.randn(16, 4) for _ in range(4)])
        >>> (q(torch.randn(3, 4)).shape, type(model[0]).__name__)
        (torch.Size([3, 2]), 'Linear')
    """
    quantizer = MODELS.build(dict(type=backend, qconfig=qconfig, skip=tuple(skip), fold_bn=fold_bn))
    return quantizer.prepare(model, example_inputs, mode=mode)


def _batch_inputs(batch: Any) -> tuple[Any, ...]:
    """The model inputs of a batch: a tensor, ``(inputs, targets)``, or a dict with ``'inputs'``."""
    if isinstance(batch, Tensor):
        return (batch,)
    if isinstance(batch, Mapping):
        if 'inputs' not in batch:
            raise ValueError(f"a dict batch needs an 'inputs' key, got keys {sorted(batch)}")
        inputs = batch['inputs']
        return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], Tensor):
        return (batch[0],)
    raise TypeError(f'a batch must be a tensor, (inputs, targets) or a dict, got {type(batch).__name__}')


def calibrate(model: nn.Module, batches: Iterable[Any], num_batches: int | None = None,
              reset: bool = False) -> nn.Module:
    """Post-training calibration: observe ``batches`` with fake quantization off, then fix qparams.

    Afterwards every fake quant quantizes with the calibrated qparams and no longer observes
    (call :func:`~razor_ext.quantization.enable_observers` to observe again, e.g. for QAT).

    Args:
        model: a model from :func:`prepare`.
        batches: tensors, ``(inputs, targets)`` pairs, or dicts with ``'inputs'``.
        num_batches: stop after this many batches (None: all).
        reset: forget earlier observations first (else statistics accumulate, as torch.ao's).

    Returns:
        ``model`` (calibrated in place), in the train/eval mode it came in.
    """
    fqs = [fq for _, fq in fake_quants(model)]
    if not fqs:
        raise ValueError('calibrate: the model has no fake quants; prepare() it first')
    if num_batches is not None and num_batches < 1:
        raise ValueError(f'num_batches must be >= 1 or None, got {num_batches}')
    for fq in fqs:
        fq.enable_observer()
        fq.disable_fake_quant()
        if reset:
            fq.activation_post_process.reset()
    was_training = model.training
    model.eval()
    seen = 0
    try:
        with torch.no_grad():
            for batch in batches:
                if num_batches is not None and seen >= num_batches:
                    break
                model(*_batch_inputs(batch))
                seen += 1
    finally:
        model.train(was_training)
    if seen == 0:
        raise ValueError('calibrate: no batches were given')
    for fq in fqs:
        fq.disable_observer()
        fq.enable_fake_quant()
    return model
