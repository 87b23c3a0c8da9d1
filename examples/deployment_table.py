"""Where compression pays: float vs pruned 50% vs int8 vs pruned + int8 in onnxruntime and OpenVINO.

For each model (torchvision-equivalent ResNet-18, ResNet-50, MobileNetV2 from deploy_models.py,
random weights, BatchNorm statistics set on random data), four ONNX files are written:
float, pruned (``razor_ext.prune``, 50% of channels by L1), int8 (default preset, calibrated on
random data, QDQ) and pruned + int8. The table gives each file's size, its median latency in
onnxruntime and OpenVINO at batch 1 and 8 (the variants of one model timed round-robin in one
process, so that load on a shared machine hits them alike), and the cosine similarity of its
onnxruntime outputs to the float model's on fresh inputs (no labels: agreement, not accuracy).

Run:  PYTHONPATH=. python examples/deployment_table.py [--models resnet18 ...] [--out table.md]
      [--threads 2] [--repeats 20] [--size 224] [--quick]
"""
from __future__ import annotations

import argparse
import importlib.util
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy_models  # noqa: E402

import razor_ext  # noqa: E402
from razor_ext.export import RuntimeSession, onnxruntime_outputs, to_onnx  # noqa: E402
from razor_ext.quantization import calibrate, export_onnx, prepare  # noqa: E402

VARIANTS = ('float', 'pruned 50%', 'int8', 'pruned + int8')


def _settle_bn(model: torch.nn.Module, size: int, steps: int = 3) -> torch.nn.Module:
    """Random weights, but BN statistics from data: activations keep a sane scale through depth."""
    model.train()
    with torch.no_grad():
        for _ in range(steps):
            model(torch.randn(4, 3, size, size))
    return model.eval()


def export_variants(name: str, folder: Path, size: int, calib_batches: int = 4) -> dict[str, Path]:
    """The four ONNX files of one model."""
    torch.manual_seed(0)
    model = _settle_bn(deploy_models.build(name), size)
    x = torch.randn(1, 3, size, size)
    pruned = razor_ext.prune(model, x, ratio=0.5)
    calib = [torch.randn(8, 3, size, size) for _ in range(calib_batches)]
    files = {'float': to_onnx(model, x, folder / f'{name}_float.onnx'),
             'pruned 50%': to_onnx(pruned, x, folder / f'{name}_pruned.onnx')}
    for label, net in (('int8', model), ('pruned + int8', pruned)):
        q = calibrate(prepare(net, x), calib)
        # verify=False: export_onnx's check allows one output step, and through 20+ quantized
        # layers onnxruntime and OpenVINO both land two steps away (rounding of requantized
        # intermediates; the same with uint8 weights); the table's cosine column shows agreement.
        files[label] = export_onnx(q, x, folder / f'{name}_{label.replace(" + ", "_")}.onnx',
                                   verify=False)
    return files


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    return float(np.mean(np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))))


def round_robin(files: dict[str, Path], runtime: str, batch: int, size: int, threads: int,
                warmup: int, repeats: int) -> dict[str, float]:
    """Median ms per call of each file, the files timed in turn (one call each per round)."""
    sessions = {k: RuntimeSession(p, runtime, threads) for k, p in files.items()}
    x = [np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)]
    for s in sessions.values():
        for _ in range(warmup):
            s(x)
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for _ in range(repeats):
        for k, s in sessions.items():
            start = time.perf_counter()
            s(x)
            times[k].append((time.perf_counter() - start) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def cpu_line() -> str:
    flags = set()
    model = platform.processor() or 'unknown CPU'
    try:
        text = Path('/proc/cpuinfo').read_text()
        model = next((ln.split(':', 1)[1].strip() for ln in text.splitlines()
                      if ln.startswith('model name')), model)
        flags = {f for f in ('avx2', 'avx512f', 'avx512_vnni', 'amx_int8') if f' {f}' in text}
    except OSError:
        pass
    return f'{model}; flags: {", ".join(sorted(flags)) or "none found"}'


def run(models: list[str], threads: int, repeats: int, size: int, batches: tuple[int, ...],
        runtimes: list[str]) -> str:
    lines = [f'CPU: {cpu_line()}; {threads} threads; OpenVINO float layers in {_ov_precision()}; input {size}x{size}; median of {repeats} calls '
             f'after warm-up, variants timed round-robin; seed 0 (weights, BatchNorm statistics, calibration '
             f'and test inputs); onnxruntime {_version("onnxruntime")}, '
             f'OpenVINO {_version("openvino")}.', '']
    head = ['model', 'variant', 'ONNX MB']
    head += [f'{rt} b{b} ms' for b in batches for rt in runtimes] + ['cosine to float']
    lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name in models:
        with tempfile.TemporaryDirectory() as tmp:
            files = export_variants(name, Path(tmp), size)
            ms = {(rt, b): round_robin(files, rt, b, size, threads, 3, repeats)
                  for b in batches for rt in runtimes}
            x = torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(5))
            ref = onnxruntime_outputs(files['float'], [x])[0]
            for label, path in files.items():
                cells = [name, label, f'{path.stat().st_size / 2**20:.1f}']
                cells += [f'{ms[(rt, b)][label]:.2f}' for b in batches for rt in runtimes]
                cells.append(f'{cosine(onnxruntime_outputs(path, [x])[0], ref):.4f}')
                lines.append('| ' + ' | '.join(cells) + ' |')
                print(lines[-1], flush=True)  # progress: the full table is printed at the end
    return '\n'.join(lines) + '\n'


def _ov_precision() -> str:
    if importlib.util.find_spec('openvino') is None:
        return '-'
    import openvino as ov
    return ov.Core().get_property('CPU', 'INFERENCE_PRECISION_HINT').to_string()


def _version(module: str) -> str:
    if importlib.util.find_spec(module) is None:
        return 'not installed'
    return getattr(importlib.import_module(module), '__version__', '?')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=list(deploy_models.PUBLISHED_PARAMS))
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--quick', action='store_true', help='resnet18 at 64x64, batch 1, 3 repeats')
    parser.add_argument('--out', type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.size, args.batches, args.repeats = ['resnet18'], 64, [1], 3
    runtimes = ['onnxruntime'] + (['openvino'] if importlib.util.find_spec('openvino') else [])
    table = run(args.models, args.threads, args.repeats, args.size, tuple(args.batches), runtimes)
    print(table)
    if args.out:
        from razor_ext.fileio import atomic_write_text
        atomic_write_text(args.out, table)


if __name__ == '__main__':
    main()
