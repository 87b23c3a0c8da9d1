"""What the demo's stages share."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from torch import Tensor, nn


@dataclass
class DemoContext:
    """What the stages share: data as tensors, the models so far, and where to write."""

    work_dir: Path
    quick: bool
    seed: int
    train: tuple[Tensor, Tensor]
    val: tuple[Tensor, Tensor]
    test: tuple[Tensor, Tensor]
    batch_size: int = 64
    # where the NAS stage measures its latency constraint (None: FLOPs only)
    latency_runtime: str | None = 'onnxruntime'
    models: dict[str, nn.Module] = field(default_factory=dict)
    log: Callable[[str], None] = print
