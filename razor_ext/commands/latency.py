"""``razor-ext bench FILE.onnx``: latency of one exported model in the deployment runtimes."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from razor_ext.commands.errors import CommandError

__all__ = ['bench_onnx']


def bench_onnx(onnx: str, runtimes: Sequence[str], threads: int | None = None, warmup: int = 10,
               repeats: int = 50, batch_size: int = 1) -> list[dict]:
    """Time ``onnx`` in each runtime (median of ``repeats`` calls after ``warmup``) and print one
    JSON line per runtime; a runtime that is not installed prints its error and the rest go on.

    Example (not run here: it times a file):
        bench_onnx('cnn.onnx', ['onnxruntime', 'openvino'], threads=2)
    """
    from razor_ext.export import benchmark

    if not Path(onnx).is_file():
        raise CommandError(f'{onnx} does not exist', 'write one with `razor-ext export` or export_onnx()')
    lines = []
    for runtime in runtimes:
        try:
            r = benchmark(onnx, runtime=runtime, threads=threads, warmup=warmup, repeats=repeats,
                          batch_size=batch_size)
            line = dict(file=str(onnx), **r.to_dict())
        except ImportError as err:  # an optional runtime that is not installed: say so, go on
            line = {'runtime': runtime, 'error': str(err)}
        print(json.dumps(line))
        lines.append(line)
    return lines
