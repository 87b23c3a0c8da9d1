"""Quantize a small CNN on MNIST-5k: float, int8 PTQ, 4-bit-weight PTQ and QAT; ONNX size and latency.

Run:  PYTHONPATH=. python examples/quantize_mnist.py [--out results.md]
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


def _latency_ms(path: Path, x: torch.Tensor, repeats: int = 50) -> float:
    onnxruntime_outputs(path, [x])  # warm-up (session creation happens per call: time the run only)
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    feed = {session.get_inputs()[0].name: x.numpy()}
    session.run(None, feed)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', type=Path, default=None, help='write the markdown table here')
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = run_pipeline()
    acc, models = result['accuracy'], result['models']
    images, labels = result['test']
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key, label in [('float', 'float'), ('ptq_int8', 'PTQ int8 (per-channel)'),
                           ('ptq_w4', 'PTQ w4a8'), ('qat_w4', 'QAT w4a8')]:
            path = Path(tmp) / f'{key}.onnx'
            if key == 'float':
                to_onnx(models[key], images[:1], path)
            else:
                export_onnx(models[key], images[:64], path)
            ort_acc = 100.0 * float((onnxruntime_outputs(path, [images])[0].argmax(1) ==
                                     labels.numpy()).mean())
            rows.append(f'| {label} | {acc[key]:.1f} | {ort_acc:.1f} | {path.stat().st_size / 1024:.1f} | '
                        f'{_latency_ms(path, images[:64]):.2f} |')
    table = '\n'.join(['| model | accuracy (PyTorch) % | accuracy (onnxruntime) % | ONNX KiB | '
                       'onnxruntime ms / 64 images |', '|---|---|---|---|---|', *rows])
    print(table)
    if args.out:
        args.out.write_text(table + '\n')


if __name__ == '__main__':
    main()
