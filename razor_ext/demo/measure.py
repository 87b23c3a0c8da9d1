"""What the demo measures of every model: accuracy, parameters, FLOPs, ONNX size and latency."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode


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


def onnx_latency_ms(path: Path, example: Tensor, repeats: int = 50) -> float:
    """Median onnxruntime CPU latency of one image (batch 1), after warm-up, in milliseconds."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    feed = {session.get_inputs()[0].name: example[:1].numpy()}
    for _ in range(5):
        session.run(None, feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)
