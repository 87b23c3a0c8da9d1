"""From the current joint choice to what is deployed: a static subnet, fake-quantized with its
per-layer bit widths and calibrated, exported as QDQ ONNX and timed in the target runtime."""
from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from razor_ext.estimators.runtime_timing import time_onnx
from razor_ext.export import to_onnx
from razor_ext.joint.space import JointSearchSpace
from razor_ext.quantization import calibrate, export_onnx, fake_quants, prepare
from razor_ext.quantization.qconfig import QConfig

__all__ = ['quantize_static', 'deployable_subnet', 'export_deployable', 'measure_subnet',
           'sub_qconfig']


def quantize_static(static: nn.Module, qconfig: QConfig, calib: Sequence[Tensor]) -> nn.Module:
    """``static`` prepared with ``qconfig`` (PTQ) and calibrated on ``calib``; ``static`` itself
    (in eval mode) when the config quantizes nothing."""
    if not calib:
        raise ValueError('quantize_static needs at least one calibration batch')
    if all(v is None for _, v in qconfig.overrides) and qconfig.overrides:
        return static.eval()
    q = prepare(static, calib[0][:1], qconfig=qconfig, mode='ptq')
    if not any(True for _ in fake_quants(q)):
        return static.eval()
    return calibrate(q, calib).eval()


def deployable_subnet(space: JointSearchSpace, calib: Sequence[Tensor]) -> nn.Module:
    """The current subnet as deployed: static, with its bit widths, calibrated on ``calib``."""
    static = space.static_subnet()
    return quantize_static(static, space.qconfig(static), calib)


def export_deployable(model: nn.Module, example_inputs: Tensor, path: str | os.PathLike[str],
                      verify: bool = True, atol: float = 1e-4, rtol: float = 1e-4) -> Path:
    """QDQ ONNX of a fake-quantized model (verified in onnxruntime within one output step plus
    ``atol + rtol * |expected|``), or plain ONNX of a float one; written atomically.

    A float output after int8 layers has no output step: it carries the runtime's int8 kernels'
    requantization rounding as small float differences, so mixed models want a looser ``rtol``.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', category=DeprecationWarning)
        if any(True for _ in fake_quants(model)):
            return export_onnx(model, example_inputs, path, verify=verify, atol=atol, rtol=rtol)
        return to_onnx(model, example_inputs, path, verify=verify)


def sub_qconfig(qconfig: QConfig, unit: str) -> QConfig:
    """``qconfig`` for ``nn.Sequential(model.get_submodule(unit))``: overrides under ``unit``
    renamed to ``'0.<rest>'`` (``unit`` itself to ``'0'``)."""
    overrides = {}
    for key, value in qconfig.overrides:
        if not isinstance(key, str):
            overrides[key] = value
        elif key == unit:
            overrides['0'] = value
        elif key.startswith(unit + '.'):
            overrides['0.' + key[len(unit) + 1:]] = value
    return QConfig(qconfig.weight, qconfig.activation, overrides=overrides)


def measure_subnet(model: nn.Module, example_inputs: Tensor, runtime: str = 'onnxruntime', *,
                   warmup: int = 10, repeats: int = 50, verify: bool = False) -> float:
    """Milliseconds of one forward of ``model`` (deployable) exported and run in ``runtime``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = export_deployable(model, example_inputs, Path(tmp) / 'model.onnx', verify=verify)
        return time_onnx(path, tuple(example_inputs.shape), runtime, warmup=warmup, repeats=repeats)


def _identity_ms(shape: tuple[int, ...], runtime: str, warmup: int, repeats: int) -> float:
    """The runtime's per-call cost for an input of ``shape`` (an identity-like model)."""
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.filterwarnings('ignore', category=DeprecationWarning)
        path = Path(tmp) / 'identity.onnx'
        # a Relu, not an Identity node: runtimes may elide an Identity graph entirely
        torch.onnx.export(nn.ReLU(), (torch.zeros(shape),), str(path), dynamo=False, opset_version=17)
        return time_onnx(path, shape, runtime, warmup=warmup, repeats=repeats)


class UnitTimer:
    """``timer(unit) -> ms``: the unit of the current subnet, deployed alone (same bit widths, its
    real input shape), timed in ``runtime`` less the runtime's per-call cost for that input.

    Args:
        space: the joint search space.
        calib: calibration batches (the unit's inputs are recorded from them).
        runtime: ``'onnxruntime'`` or ``'openvino'``.
        warmup, repeats: timing runs per unit.
    """

    def __init__(self, space: JointSearchSpace, calib: Sequence[Tensor], runtime: str = 'onnxruntime',
                 warmup: int = 10, repeats: int = 50) -> None:
        self.space, self.calib, self.runtime = space, list(calib), runtime
        self.warmup, self.repeats = warmup, repeats
        self._overhead: dict[tuple[int, ...], float] = {}

    def overhead(self, shape: tuple[int, ...]) -> float:
        if shape not in self._overhead:
            self._overhead[shape] = _identity_ms(shape, self.runtime, self.warmup, self.repeats)
        return self._overhead[shape]

    def model_overhead(self) -> float:
        return self.overhead(tuple(self.space.example_inputs.shape))

    def __call__(self, unit: str) -> float:
        static = self.space.static_subnet()
        qconfig = sub_qconfig(self.space.qconfig(static), unit)
        module = static.get_submodule(unit)
        inputs: list[Tensor] = []
        handle = module.register_forward_pre_hook(lambda m, args: inputs.append(args[0].detach()))
        try:
            with torch.no_grad():
                for batch in self.calib:
                    static(batch)
                static(self.space.example_inputs)
        finally:
            handle.remove()
        example = inputs.pop()
        part = quantize_static(nn.Sequential(module), qconfig, inputs)
        ms = measure_subnet(part, example, self.runtime, warmup=self.warmup, repeats=self.repeats)
        return ms - self.overhead(tuple(example.shape))
