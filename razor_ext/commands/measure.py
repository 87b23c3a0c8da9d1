"""The before / after table every command prints: accuracy, parameters, FLOPs and file size."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from razor_ext.algorithm import BaseAlgorithm
from razor_ext.demo.measure import count_flops, count_params
from razor_ext.engine.evaluator import Accuracy
from razor_ext.engine.loops.val_test_loops import evaluate

__all__ = ['Row', 'eval_loader', 'example_input', 'format_table', 'measure']


@dataclasses.dataclass
class Row:
    """One line of the table (``None``: not measured)."""

    name: str
    accuracy: float | None = None
    params: int | None = None
    flops: int | None = None
    file: str | None = None
    file_kib: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def eval_loader(runner: Any) -> Any:
    """The loader the table is measured on: the test loader, else the validation loader; only one
    whose loop the config keeps (``test_cfg=None`` means: do not touch that data), else None."""
    for key, loop in (('test_dataloader', 'test_cfg'), ('val_dataloader', 'val_cfg')):
        if runner.cfg.get(key) is not None and runner.cfg.get(loop) is not None:
            return runner.build_dataloader(runner.cfg[key])
    return None


def example_input(runner: Any, loader: Any) -> torch.Tensor:
    """One preprocessed input of ``loader``, shape ``(1, ...)`` (what ONNX export traces)."""
    batch = next(iter(loader))
    data = runner.model._preprocess(batch, training=False)
    return data['inputs'][:1]


def measure(name: str, model: nn.Module, loader: Any, example: torch.Tensor,
            file: str | Path | None = None, accuracy: bool = True) -> Row:
    """A :class:`Row` for ``model`` (a bare network or an algorithm) on ``loader``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> measure('net', net, None, torch.randn(1, 4)).params
        10
    """
    algo = model if isinstance(model, BaseAlgorithm) else BaseAlgorithm(model)
    net = algo.architecture
    row = Row(name, params=count_params(net))
    try:
        row.flops = count_flops(net, example)
    except Exception:  # noqa: BLE001 - a model FlopCounterMode cannot run keeps its other columns
        row.flops = None
    if accuracy and loader is not None:
        row.accuracy = float(evaluate(algo, loader, Accuracy(topk=(1,)))['accuracy/top1'])
    if file is not None and Path(file).is_file():
        row.file, row.file_kib = Path(file).name, Path(file).stat().st_size / 1024
    return row


def format_table(rows: list[Row]) -> str:
    """The rows as an aligned text table."""
    def cell(value: Any, fmt: str) -> str:
        return '-' if value is None else format(value, fmt)

    lines = [f'{"model":<24} {"top-1 %":>8} {"params":>9} {"MFLOPs":>8}  file']
    for r in rows:
        file = '-' if r.file is None else f'{r.file} ({r.file_kib:.1f} KiB)'
        lines.append(f'{r.name:<24} {cell(r.accuracy, ".2f"):>8} {cell(r.params, ","):>9} '
                     f'{cell(None if r.flops is None else r.flops / 1e6, ".3f"):>8}  {file}')
    return '\n'.join(lines)
