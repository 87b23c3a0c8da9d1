"""Running the demo's stages in order and writing the report."""
from __future__ import annotations

import os
import time
import traceback
from pathlib import Path
from typing import Callable

import torch

from razor_ext.data import EmbeddedDigits
from razor_ext.demo.context import DemoContext
from razor_ext.demo.report import write_report
from razor_ext.demo.stages import STAGES, Stage, StageResult


def run_demo(work_dir: str | os.PathLike[str] = 'razor_demo', quick: bool = False, seed: int = 0,
             stages: list[Stage] | None = None, log: Callable[[str], None] = print,
             latency_runtime: str | None = 'onnxruntime') -> list[StageResult]:
    """Run every stage on MNIST-5k and write ``report.md``, ``report.html``, plots and ONNX files
    into ``work_dir``. Returns the report rows.

    ``quick`` trains each stage for one epoch (under a minute on 2 cores); the full run trains
    longer (a few minutes). A stage that fails is reported with its error and the rest go on
    from the last good model. ``latency_runtime`` (``'onnxruntime'``, ``'openvino'`` or None)
    is where the NAS stage's search measures its latency constraint (no slower than the
    teacher there); None searches under FLOPs alone.
    """
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    train, val, test = (EmbeddedDigits('mnist5k', split, seed=seed) for split in ('train', 'val', 'test'))
    ctx = DemoContext(work, quick, seed, (train.images, train.labels), (val.images, val.labels),
                      (test.images, test.labels), log=log, latency_runtime=latency_runtime)
    results = []
    for index, stage in enumerate(stages or STAGES, 1):
        log(f'[{index}/{len(stages or STAGES)}] {stage.title}')
        reason = stage.available()
        if reason is not None:
            results.append(StageResult(stage.name, stage.title, 'not landed', notes=reason))
            log(f'  not landed yet: {reason}')
            continue
        start = time.perf_counter()
        try:
            result = stage.run(ctx)
        except Exception as err:  # a broken stage is reported, the demo goes on
            result = StageResult(stage.name, stage.title, 'failed', notes=f'{type(err).__name__}: {err}')
            log(f'  FAILED: {result.notes}')
            if os.environ.get('RAZOR_EXT_DEBUG'):
                traceback.print_exc()
        result.seconds = time.perf_counter() - start
        results.append(result)
        if result.status == 'done':
            log(f'  accuracy {result.accuracy:.2f}%  params {result.params:,}  '
                f'ONNX {result.onnx_bytes / 1024:.1f} KiB  {result.latency_ms:.3f} ms/image (onnxruntime)'
                + ('' if result.openvino_ms is None else f', {result.openvino_ms:.3f} (OpenVINO)'))
    table = write_report(work, results, quick=quick)
    log('')
    log(table)
    log(f'\nreport: {work / "report.html"} and {work / "report.md"}')
    return results
