"""The benchmark table: one row per case, printed, and written as JSON and markdown."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from razor_ext.fileio import atomic_write_text

COLUMNS = ('what', 'shape', 'dtype', 'device', 'razor_ext_ms', 'baseline', 'baseline_ms', 'ratio', 'bw_pct')


@dataclass
class BenchRow:
    """One measured case. ``ratio`` = baseline time / razor_ext time (above 1: razor_ext is
    faster); ``bw_pct`` = the bytes the case must move per second, as % of the same run's copy
    bandwidth (memory-bound kernels only, else None).

    Example:
        >>> BenchRow('op', '(4, 4)', 'float32', 'cpu', 1.0, 'eager', 2.0).ratio
        2.0
    """

    what: str
    shape: str
    dtype: str
    device: str
    razor_ext_ms: float
    baseline: str
    baseline_ms: float | None
    bw_pct: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline_ms is None or self.razor_ext_ms <= 0:
            return None
        return round(self.baseline_ms / self.razor_ext_ms, 3)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), 'ratio': self.ratio}


def _cell(value: object) -> str:
    if value is None:
        return '-'
    if isinstance(value, float):
        return f'{value:.3g}' if abs(value) < 1000 else f'{value:.0f}'
    return str(value)


def format_table(rows: list[BenchRow], markdown: bool = False) -> str:
    """The rows as an aligned text table (or a markdown table).

    Example:
        >>> print(format_table([BenchRow('op', '(4,)', 'float32', 'cpu', 1.0, 'eager', 2.0)]).splitlines()[0].split())
        ['what', 'shape', 'dtype', 'device', 'razor_ext_ms', 'baseline', 'baseline_ms', 'ratio', 'bw_pct']
    """
    cells = [[_cell(row.as_dict()[c]) for c in COLUMNS] for row in rows]
    if markdown:
        lines = ['| ' + ' | '.join(COLUMNS) + ' |', '|' + '---|' * len(COLUMNS)]
        return '\n'.join(lines + ['| ' + ' | '.join(r) + ' |' for r in cells])
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(COLUMNS)]
    fmt = '  '.join(f'{{:<{w}}}' for w in widths)
    return '\n'.join([fmt.format(*COLUMNS)] + [fmt.format(*r) for r in cells])


def write_report(rows: list[BenchRow], machine: dict[str, object], out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``bench.json`` and ``bench.md`` (atomically) under ``out_dir``; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / 'bench.json', out / 'bench.md'
    atomic_write_text(json_path, json.dumps({'machine': machine, 'rows': [r.as_dict() for r in rows]}, indent=2))
    header = '\n'.join(f'- {k}: {v}' for k, v in machine.items())
    atomic_write_text(md_path, f'# razor-ext bench\n\n{header}\n\n{format_table(rows, markdown=True)}\n')
    return json_path, md_path
