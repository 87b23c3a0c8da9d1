"""``razor-ext bench``: run every case, print one table, write JSON and markdown."""
from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import torch

from razor_ext.bench.kernels import kernel_rows
from razor_ext.bench.pipelines import deploy_rows, prune_rows, search_rows, training_rows
from razor_ext.bench.report import BenchRow, format_table, write_report


def machine_info(device: torch.device) -> dict[str, object]:
    """CPU model, ISA flags that matter here, threads, torch version, date (UTC)."""
    cpu = platform.processor() or platform.machine()
    flags: list[str] = []
    try:
        text = Path('/proc/cpuinfo').read_text()
        cpu = next((ln.split(':', 1)[1].strip() for ln in text.splitlines() if ln.startswith('model name')), cpu)
        words = set(text.split())
        flags = [f for f in ('avx2', 'avx512f', 'avx512_vnni', 'amx_int8') if f in words]
    except OSError:
        pass
    info: dict[str, object] = {'cpu': cpu, 'flags': ' '.join(flags) or '-', 'threads': torch.get_num_threads(),
                               'torch': torch.__version__, 'device': str(device),
                               'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def run_bench(quick: bool = False, out: str | os.PathLike[str] | None = None,
              device: str = 'cpu', echo: bool = True) -> list[BenchRow]:
    """Run the suite (``quick``: small shapes and few rounds, under 2 minutes on 2 cores) and
    return its rows; prints the table when ``echo`` and writes ``bench.json`` / ``bench.md``
    under ``out`` when given. ``ratio`` = baseline time / razor_ext time.

    Example:
        >>> rows = run_bench(quick=True, out='bench_out')  # doctest: +SKIP
    """
    dev = torch.device(device)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'device {device!r}: no CUDA device is available here')
    rows: list[BenchRow] = []
    for section in (kernel_rows, training_rows, search_rows, prune_rows):
        rows += section(quick, dev)
    if dev.type == 'cpu':
        rows += deploy_rows(quick, dev)
    machine = machine_info(dev)
    if echo:
        print(' | '.join(f'{k}: {v}' for k, v in machine.items()))
        print(format_table(rows))
    if out is not None:
        json_path, md_path = write_report(rows, machine, out)
        if echo:
            print(f'wrote {json_path} and {md_path}')
    return rows
