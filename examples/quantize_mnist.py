"""Quantize a small CNN on MNIST-5k: float, int8 PTQ, 4-bit-weight PTQ and QAT; ONNX size and latency.

Run:  PYTHONPATH=. python examples/quantize_mnist.py [--out results.md] [--seeds 0 1 2]
The tests import :func:`run_pipeline` (tests/quantization/test_accuracy_mnist.py).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from razor_ext.data import EmbeddedDigits
from razor_ext.export import onnxruntime_outputs, to_onnx
from razor_ext.quantization import calibrate, export_onnx, prepare


def small_cnn() -> nn.Module:
    """Conv-BN-ReLU x2 and a linear head, for 28x28 digits."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy in percent."""
    model.eval()
    with torch.no_grad():
        return 100.0 * (model(images).argmax(1) == labels).float().mean().item()


def train(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epochs: int, lr: float,
          seed: int = 0) -> nn.Module:
    """Adam with a cosine schedule, batch 64."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(labels) + 63) // 64)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=g)
        for i in range(0, len(labels), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(model(images[idx]), labels[idx]).backward()
            opt.step()
            sched.step()
    model.eval()
    return model


def run_pipeline(float_epochs: int = 3, qat_epochs: int = 2, w4_qconfig: str = 'w4a8',
                 seed: int = 0) -> dict[str, object]:
    """Float training, then int8 PTQ, 4-bit-weight PTQ and 4-bit-weight QAT (from the float weights).

    Returns the accuracies (percent on the test split) and the prepared models.
    """
    torch.manual_seed(seed)
    train_set, test_set = EmbeddedDigits('mnist5k', 'train'), EmbeddedDigits('mnist5k', 'test')
    x, y = train_set.images, train_set.labels
    model = train(small_cnn(), x, y, float_epochs, 1e-2, seed)
    calib = [x[i:i + 128] for i in range(0, 1024, 128)]
    ptq8 = calibrate(prepare(model, x[:1], qconfig='int8_per_channel'), calib)
    ptq4 = calibrate(prepare(model, x[:1], qconfig=w4_qconfig), calib)
    qat4 = calibrate(prepare(model, x[:1], qconfig=w4_qconfig, mode='qat'), calib)
    train(qat4, x, y, qat_epochs, 1e-3, seed)  # observers off after calibrate: qparams stay fixed
    results = {name: accuracy(m, test_set.images, test_set.labels)
               for name, m in [('float', model), ('ptq_int8', ptq8), ('ptq_w4', ptq4), ('qat_w4', qat4)]}
    return dict(accuracy=results, models=dict(float=model, ptq_int8=ptq8, ptq_w4=ptq4, qat_w4=qat4),
                test=(test_set.images, test_set.labels))


_ARMS = [('float', 'float'), ('ptq_int8', 'PTQ int8 (per-channel)'), ('ptq_w4', 'PTQ w4a8'),
         ('qat_w4', 'QAT w4a8')]


def round_robin_ms(paths: dict[str, Path], x: torch.Tensor, rounds: int = 50) -> dict[str, float]:
    """Median onnxruntime time (ms) of each file on ``x``, the files timed round robin (each
    round runs every file once, in a shuffled order) so that load on a shared host hits them alike."""
    import random

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    sessions = {k: ort.InferenceSession(str(p), options, providers=['CPUExecutionProvider'])
                for k, p in paths.items()}
    feeds = {k: {s.get_inputs()[0].name: x.numpy()} for k, s in sessions.items()}
    for k, s in sessions.items():  # warm-up
        s.run(None, feeds[k])
    times: dict[str, list[float]] = {k: [] for k in sessions}
    order, rng = list(sessions), random.Random(0)
    for _ in range(rounds):
        rng.shuffle(order)
        for k in order:
            t0 = time.perf_counter()
            sessions[k].run(None, feeds[k])
            times[k].append(time.perf_counter() - t0)
    return {k: 1000.0 * float(np.median(v)) for k, v in times.items()}


def measure_seed(seed: int) -> dict[str, dict[str, float]]:
    """One seed of the pipeline: per arm, PyTorch and onnxruntime test accuracy (%), ONNX KiB and
    onnxruntime ms per 64 images (round robin)."""
    result = run_pipeline(seed=seed)
    models = result['models']
    images, labels = result['test']
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for key, _ in _ARMS:
            path = paths[key] = Path(tmp) / f'{key}.onnx'
            if key == 'float':
                to_onnx(models[key], images[:1], path)
            else:
                export_onnx(models[key], images[:64], path)
            ort_acc = 100.0 * float((onnxruntime_outputs(path, [images])[0].argmax(1) ==
                                     labels.numpy()).mean())
            out[key] = dict(acc=result['accuracy'][key], ort_acc=ort_acc, kib=path.stat().st_size / 1024)
        for key, ms in round_robin_ms(paths, images[:64]).items():
            out[key]['ms'] = ms
    return out


def _mean_std(values: list[float], digits: int = 2) -> str:
    import statistics

    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f'{statistics.mean(values):.{digits}f} ± {std:.{digits}f}'


def markdown_table(per_seed: list[dict[str, dict[str, float]]]) -> str:
    """Accuracy as mean ± std over the seeds; latency as the ratio to the float file of the same
    seed (timed round robin), then its median ms."""
    rows = []
    for key, label in _ARMS:
        acc = [r[key]['acc'] for r in per_seed]
        ort_acc = [r[key]['ort_acc'] for r in per_seed]
        ratio = [r['float']['ms'] / r[key]['ms'] for r in per_seed]
        ms = sorted(r[key]['ms'] for r in per_seed)[len(per_seed) // 2]
        rows.append(f"| {label} | {_mean_std(acc)} | {_mean_std(ort_acc)} | "
                    f"{per_seed[0][key]['kib']:.1f} | {_mean_std(ratio)} | {ms:.2f} |")
    return '\n'.join(['| model | accuracy (PyTorch) %, mean ± std | accuracy (onnxruntime) %, mean ± std | '
                      'ONNX KiB | speed vs float in onnxruntime (float ms / this ms) | '
                      'onnxruntime ms / 64 images (median seed) |', '|---|---|---|---|---|---|', *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', type=Path, default=None, help='write the markdown table here')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    import onnxruntime

    from razor_ext.estimators import cpu_signature
    from razor_ext.fileio import atomic_write_text

    per_seed = [measure_seed(seed) for seed in args.seeds]
    host = cpu_signature()
    caption = (f"MNIST-5k test split (500 images); seeds {args.seeds} (training order and "
               f"initialisation); host {host['cpu']} ({', '.join(host['flags'])}), {host['threads']} "
               f'thread, torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; latency: '
               f'median of 50 round-robin rounds on a batch of 64.')
    table = caption + '\n\n' + markdown_table(per_seed)
    print(table)
    if args.out:
        atomic_write_text(args.out, table + '\n')


if __name__ == '__main__':
    main()
