"""``MMArchitectureQuant``: PTQ calibration, QAT (observer / BN freeze epochs) and LSQ as an algorithm."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from razor_ext.algorithm.base_algorithm import BaseAlgorithm
from razor_ext.algorithm.random_weights import warn_random_weights
from razor_ext.algorithm.weights import load_weights
from razor_ext.quantization.checkpoint import save
from razor_ext.quantization.fake_quantize import LearnableFakeQuantize
from razor_ext.quantization.onnx_qdq import export_onnx
from razor_ext.quantization.prepare import calibrate
from razor_ext.quantization.switches import fake_quants, freeze_bn_stats, freeze_observers
from razor_ext.registry import MODELS

__all__ = ['MMArchitectureQuant']


@MODELS.register_module()
class MMArchitectureQuant(BaseAlgorithm):
    """A fake-quantized architecture, driven by any training loop (MMRazor's name).

    PTQ: build with ``mode='ptq'``, then :meth:`calibrate`, then :meth:`export_onnx`. QAT (also LSQ
    with a ``'lsq_*'`` qconfig): build with ``mode='qat'``, optionally :meth:`calibrate` first (LSQ
    initialisation), train with ``train_step`` and call :meth:`on_train_epoch_start` each epoch: from
    ``freeze_observer_epoch`` on the qparams are frozen, from ``freeze_bn_epoch`` on the BatchNorm
    statistics (only where BN is kept float: ``fold_bn=False`` in the quantizer).

    Args:
        architecture: the float model or a ``MODELS`` config dict.
        quantizer: a quantizer or ``MODELS`` config, e.g.
            ``dict(type='NativeQuantizer', qconfig='w4a8', skip=['head'])``.
        input_shapes: shape of one example input (or a list of shapes) used to prepare.
        mode: ``'ptq'`` or ``'qat'``.
        float_checkpoint: a float checkpoint loaded into the architecture before preparing (any
            file a razor_ext command writes; a pruned one shrinks the architecture first).
            Without it (and without ``init_cfg``) a config-built architecture warns once
            (:class:`~razor_ext.algorithm.RandomWeightsWarning`).
        freeze_observer_epoch, freeze_bn_epoch: QAT epochs (0-based) from which to freeze.
        data_preprocessor, init_cfg, loss_fn: as :class:`BaseAlgorithm`.

    Example:
        >>> algo = MODELS.build(dict(type='MMArchitectureQuant',
        ...     architecture=nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)),
        ...     quantizer=dict(type='NativeQuantizer', qconfig='int8'), input_shapes=(1, 4)))
        >>> _ = algo.calibrate([torch.randn(16, 4)])
        >>> algo(torch.randn(2, 4), mode='predict').shape
        torch.Size([2])
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any],
                 quantizer: Any = None,
                 input_shapes: Sequence[int] | Sequence[Sequence[int]] = (1, 3, 224, 224),
                 mode: str = 'ptq', float_checkpoint: str | os.PathLike[str] | None = None,
                 freeze_observer_epoch: int | None = None, freeze_bn_epoch: int | None = None,
                 data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
                 init_cfg: Mapping[str, Any] | None = None,
                 loss_fn: Callable[[Any, Any], torch.Tensor] | Mapping[str, Any] | None = None,
                 deploy_cfg: Any = None) -> None:
        super().__init__(architecture, data_preprocessor, init_cfg, loss_fn)
        # MMRazor's backend deploy config (mmdeploy); kept for reference, export uses ONNX QDQ.
        self.deploy_cfg = deploy_cfg
        if mode not in ('ptq', 'qat'):
            raise ValueError(f"mode must be 'ptq' or 'qat', got {mode!r}")
        if float_checkpoint is not None:
            load_weights(self.architecture, float_checkpoint)
        elif isinstance(architecture, Mapping) and init_cfg is None:
            # Built from a config with nothing to load: quantizing random weights.
            warn_random_weights('the float model to quantize', 'model.float_checkpoint')
        if quantizer is None:
            quantizer = dict(type='NativeQuantizer')
        if isinstance(quantizer, Mapping):
            quantizer = MODELS.build(dict(quantizer))
        if not callable(getattr(quantizer, 'prepare', None)):
            raise TypeError(f'quantizer must have a prepare() method, got {type(quantizer).__name__}')
        shapes = [input_shapes] if all(isinstance(s, int) for s in input_shapes) else input_shapes
        examples = tuple(torch.zeros(tuple(s)) for s in shapes)
        self.quantizer, self.mode = quantizer, mode
        self.example_inputs = examples
        self.architecture = quantizer.prepare(self.architecture, examples, mode=mode)
        self.freeze_observer_epoch, self.freeze_bn_epoch = freeze_observer_epoch, freeze_bn_epoch
        self._bn_frozen = False
        self.train(mode == 'qat')

    def calibrate(self, batches: Iterable[Any], num_batches: int | None = None) -> MMArchitectureQuant:
        """PTQ calibration (or LSQ/QAT initialisation) on ``batches`` (see ``quantization.calibrate``).

        In QAT mode with non-learnable fake quants the observers are switched back on afterwards,
        so they keep following the data until ``freeze_observer_epoch``.
        """
        calibrate(self.architecture, batches, num_batches)
        if self.mode == 'qat':
            for _, fq in fake_quants(self.architecture):
                if not isinstance(fq, LearnableFakeQuantize) and not bool(fq.frozen):
                    fq.enable_observer()
        return self

    def on_train_epoch_start(self, epoch: int) -> None:
        """Apply the observer / BN freeze schedule at the start of ``epoch`` (0-based)."""
        if self.freeze_observer_epoch is not None and epoch >= self.freeze_observer_epoch:
            freeze_observers(self.architecture)
        if self.freeze_bn_epoch is not None and epoch >= self.freeze_bn_epoch and not self._bn_frozen:
            freeze_bn_stats(self.architecture)
            self._bn_frozen = True

    def train(self, mode: bool = True) -> MMArchitectureQuant:
        super().train(mode)
        if self._bn_frozen:
            for module in self.architecture.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def export_onnx(self, path: str | os.PathLike[str], example_inputs: Any = None,
                    verify: bool = True) -> Path:
        """QDQ ONNX of the quantized architecture (see ``razor_ext.quantization.export_onnx``)."""
        inputs = self.example_inputs if example_inputs is None else example_inputs
        return export_onnx(self.architecture, inputs, path, verify=verify)

    def save_quantized(self, path: str | os.PathLike[str]) -> None:
        """Recipe + weights + qparams of the architecture (``razor_ext.quantization.load`` reads it)."""
        save(self.architecture, path)
