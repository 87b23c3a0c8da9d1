"""Deployed speed of compressed models: ResNet-18 (torchvision layout, random weights) at 224x224,
batch 1, 2 threads, in onnxruntime and OpenVINO (skipped cleanly when OpenVINO is absent).

Roles, all ONNX files of one model: ``float``; ``int8`` (the default preset, symmetric int8
per-channel weights); ``int8_u8`` (the old default, uint8 weight codes); ``pruned`` (50% of
channels, ``razor_ext.prune``); ``ort_qdq`` and ``ort_qdq_u8act``: onnxruntime's own
``quantize_static`` of the float file (QDQ, s8 per-channel weights; s8 activations, its default,
or u8), the best int8 a runtime's own tool gives, to tell our quantizer's share of a gap from
the host's. Per runtime the roles run round robin (one call each per round),
and the figures are the medians of the per-round ratios ``float / role`` (speed-up, > 1 is
faster). Run with ``-s`` to see them; the session's CPU flags are printed too (int8 speed
depends on VNNI / AMX). With ``--benchmark-disable`` it is a smoke test at 64x64, two rounds.
"""
from __future__ import annotations

import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import razor_ext
from razor_ext.export import RuntimeSession, to_onnx
from razor_ext.quantization import calibrate, export_onnx, prepare

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'examples'))
import deploy_models  # noqa: E402
from deployment_table import _settle_bn, cpu_line  # noqa: E402

ROUNDS = int(os.environ.get('RAZOR_EXT_DEPLOY_ROUNDS', '40'))
RUNTIMES = ['onnxruntime'] + (['openvino'] if importlib.util.find_spec('openvino') else [])


def _files(folder: Path, size: int) -> dict[str, Path]:
    torch.manual_seed(0)
    model = _settle_bn(deploy_models.build('resnet18'), size)
    x = torch.randn(1, 3, size, size)
    calib = [torch.randn(8, 3, size, size) for _ in range(4)]
    files = {'float': to_onnx(model, x, folder / 'float.onnx'),
             'pruned': to_onnx(razor_ext.prune(model, x, ratio=0.5), x, folder / 'pruned.onnx')}
    for role, preset in (('int8', 'int8_per_channel'), ('int8_u8', 'int8_per_channel_u8')):
        q = calibrate(prepare(model, x, qconfig=preset), calib)
        files[role] = export_onnx(q, x, folder / f'{role}.onnx', verify=False)
    files.update(_ort_quantized(files['float'], calib, folder))
    return files


def _ort_quantized(float_path: Path, calib: list[torch.Tensor], folder: Path) -> dict[str, Path]:
    """onnxruntime's own static QDQ quantization of ``float_path``, s8 per-channel weights."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
    name = onnx.load(str(float_path)).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{name: b[i:i + 1].numpy()} for b in calib for i in range(len(b))])

        def get_next(self):  # noqa: ANN201 - onnxruntime's interface
            return next(self.batches, None)

    out = {}
    for role, act in (('ort_qdq', QuantType.QInt8), ('ort_qdq_u8act', QuantType.QUInt8)):
        out[role] = folder / f'{role}.onnx'
        quantize_static(str(float_path), str(out[role]), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, weight_type=QuantType.QInt8, activation_type=act)
    return out


@pytest.mark.parametrize('runtime', RUNTIMES)
def test_resnet18_deployed_speedups(benchmark, runtime):
    quick = benchmark.disabled
    size, rounds, threads = (64, 2, 2) if quick else (224, ROUNDS, 2)
    with tempfile.TemporaryDirectory() as tmp:
        files = _files(Path(tmp), size)
        sessions = {k: RuntimeSession(p, runtime, threads) for k, p in files.items()}
        if runtime == 'openvino':  # its own float precision may be bf16: f32 too, for reference
            sessions['float_f32'] = RuntimeSession(files['float'], runtime, threads,
                                                   {'INFERENCE_PRECISION_HINT': 'f32'})
        x = [np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)]
        for s in sessions.values():
            for _ in range(3):
                s(x)
        times: dict[str, list[float]] = {k: [] for k in sessions}
        for _ in range(rounds):
            for k, s in sessions.items():
                start = time.perf_counter()
                s(x)
                times[k].append((time.perf_counter() - start) * 1e3)
        precision = sessions['float'].precision
    print(f'\n{runtime} ({precision} float layers), ResNet-18 {size}x{size} b1, {threads} threads, '
          f'{rounds} rounds; {cpu_line()}')
    for role, ts in times.items():
        ratios = [f / t for f, t in zip(times['float'], ts)]
        print(f'  {role:8s} median {statistics.median(ts):8.2f} ms   float/{role}: '
              f'{statistics.median(ratios):.2f}x')
    if quick:
        assert all(min(ts) > 0 for ts in times.values())
