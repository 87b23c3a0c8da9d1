"""What the demo measures of every model: accuracy, parameters, FLOPs, ONNX size and latency."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from razor_ext.export import benchmark


def accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy in percent, in eval mode, without gradients; the mode is restored."""
    was_training = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(labels), batch_size):
            logits = model(images[i:i + batch_size])
            correct += int((logits.argmax(1) == labels[i:i + batch_size]).sum())
    model.train(was_training)
    return 100.0 * correct / max(1, len(labels))


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, example: Tensor) -> int:
    """Forward FLOPs of one example (2 per multiply-add), as torch's FlopCounterMode counts them."""
    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(example[:1])
    model.train(was_training)
    return int(counter.get_total_flops())


def onnx_latency_ms(path: Path, example: Tensor, repeats: int = 50, runtime: str = 'onnxruntime') -> float:
    """Median latency of one image (batch 1) in ``runtime`` after warm-up, in milliseconds.

    Timed by :func:`razor_ext.export.benchmark` with ``torch.get_num_threads()`` threads.
    """
    return benchmark(path, example[:1], runtime=runtime, warmup=5, repeats=repeats).median_ms


def openvino_latency_ms(path: Path, example: Tensor, repeats: int = 50) -> float | None:
    """As :func:`onnx_latency_ms` in OpenVINO; None when OpenVINO is not installed."""
    if importlib.util.find_spec('openvino') is None:
        return None
    return onnx_latency_ms(path, example, repeats, runtime='openvino')
