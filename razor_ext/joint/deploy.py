"""From the current joint choice to what is deployed: a static subnet, fake-quantized with its
per-layer bit widths and calibrated, exported as QDQ ONNX and timed in the target runtime."""
from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor, nn

from razor_ext.estimators.runtime_timing import time_onnx
from razor_ext.export import to_onnx
from razor_ext.joint.space import JointSearchSpace
from razor_ext.quantization import calibrate, export_onnx, fake_quants, prepare
from razor_ext.quantization.qconfig import QConfig

__all__ = ['quantize_static', 'deployable_subnet', 'export_deployable', 'measure_subnet',
           'chain_qconfig', 'sub_qconfig']


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


def chain_qconfig(qconfig: QConfig, units: Sequence[str]) -> QConfig:
    """``qconfig`` for ``nn.Sequential(*(model.get_submodule(u) for u in units))``: overrides
    under ``units[i]`` renamed to ``'<i>.<rest>'`` (``units[i]`` itself to ``'<i>'``); overrides
    of other modules dropped.

    Example:
        >>> qc = QConfig(None, None, overrides={'blocks.1.0': None, 'head': None, 'stem.0': None})
        >>> sorted(k for k, _ in chain_qconfig(qc, ['blocks.1', 'head']).overrides)
        ['0.0', '1']
    """
    overrides = {}
    for key, value in qconfig.overrides:
        if not isinstance(key, str):
            overrides[key] = value
            continue
        for i, unit in enumerate(units):
            if key == unit:
                overrides[str(i)] = value
            elif key.startswith(unit + '.'):
                overrides[f'{i}.' + key[len(unit) + 1:]] = value
    return QConfig(qconfig.weight, qconfig.activation, overrides=overrides)


def sub_qconfig(qconfig: QConfig, unit: str) -> QConfig:
    """``qconfig`` for ``nn.Sequential(model.get_submodule(unit))``: overrides under ``unit``
    renamed to ``'0.<rest>'`` (``unit`` itself to ``'0'``)."""
    return chain_qconfig(qconfig, [unit])


def measure_subnet(model: nn.Module, example_inputs: Tensor, runtime: str = 'onnxruntime', *,
                   warmup: int = 10, repeats: int = 50, verify: bool = False,
                   stat: str = 'median', sessions: int = 1, threads: int | None = None) -> float:
    """Milliseconds of one forward of ``model`` (deployable) exported and run in ``runtime``
    with ``threads`` intra-op threads (None: ``torch.get_num_threads()``); ``stat`` of
    ``repeats`` runs (``'median'`` or ``'min'``), the median of that over ``sessions`` fresh
    runtime sessions (see :func:`~razor_ext.estimators.time_onnx`)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = export_deployable(model, example_inputs, Path(tmp) / 'model.onnx', verify=verify)
        return time_onnx(path, tuple(example_inputs.shape), runtime, warmup=warmup, repeats=repeats,
                         stat=stat, sessions=sessions, threads=threads)
