"""The demo's report: a Markdown table, a self-contained HTML page and PNG plots."""
from __future__ import annotations

import base64
import html
import io
import platform
from pathlib import Path
from typing import Any

import torch

from razor_ext.fileio import atomic_write_bytes, atomic_write_text

# The demo's CNN needs well under a MFLOP per image: a runtime call costs more than the math, so
# compressing it cannot show as speed. Said in the report, with where compression does pay.
DEPLOYMENT_NOTE = ('On this small CNN each runtime call costs tens of microseconds of fixed overhead, '
                   'more than its arithmetic, so the latency columns do not fall with compression (the '
                   'int8 file adds QuantizeLinear/DequantizeLinear calls). Where the arithmetic dominates, '
                   'compression pays: see the deployment table (docs/deployment.md, made by '
                   'examples/deployment_table.py) for ResNet-18/50 and MobileNetV2 at 224x224.')

_COLUMNS = ('stage', 'status', 'top-1 %', 'params', 'MFLOPs', 'ONNX KiB', 'ORT ms/image',
            'OpenVINO ms/image', 'notes')


def _row(r: Any) -> list[str]:
    def fmt(value: Any, spec: str) -> str:
        return '-' if value is None else format(value, spec)

    return [r.title, r.status, fmt(r.accuracy, '.2f'), fmt(r.params, ','),
            '-' if r.flops is None else f'{r.flops / 1e6:.2f}',
            '-' if r.onnx_bytes is None else f'{r.onnx_bytes / 1024:.1f}', fmt(r.latency_ms, '.3f'),
            fmt(getattr(r, 'openvino_ms', None), '.3f'), r.notes]


def markdown_table(results: list[Any]) -> str:
    """The report's table in Markdown (also what the CLI prints)."""
    lines = ['| ' + ' | '.join(_COLUMNS) + ' |', '|' + '---|' * len(_COLUMNS)]
    lines += ['| ' + ' | '.join(_row(r)) + ' |' for r in results]
    return '\n'.join(lines)


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points (cost, score) not beaten by a cheaper-or-equal point with a higher score, by cost.

    Example:
        >>> pareto_front([(1, 50), (2, 40), (3, 60), (4, 60)])
        [(1, 50), (3, 60)]
    """
    front, best = [], float('-inf')
    for cost, score in sorted(points, key=lambda p: (p[0], -p[1])):
        if score > best:
            front.append((cost, score))
            best = score
    return front


_STAGE_MARKERS = '*DsP^v'


def _plots(results: list[Any]) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    pngs: dict[str, bytes] = {}
    done = [r for r in results if r.status == 'done']
    candidates = [c for r in results for c in r.candidates]
    fig, ax = plt.subplots(figsize=(6, 4))
    if candidates:
        points = [(c['flops'] / 1e6, c['accuracy']) for c in candidates]
        ax.scatter(*zip(*points), s=12, alpha=0.5, label='evaluated subnets (supernet weights)')
        front = pareto_front(points)
        ax.plot(*zip(*front), 'r-o', ms=4, label='Pareto front')
    # Stages can coincide (quantizing keeps FLOPs and usually accuracy), so each stage gets its own
    # marker, drawn smaller and later than the one before: a stage on top of another stays visible.
    for i, r in enumerate(done):
        ax.scatter([r.flops / 1e6], [r.accuracy], marker=_STAGE_MARKERS[i % len(_STAGE_MARKERS)],
                   s=max(40, 260 - 50 * i), edgecolors='black', linewidths=0.6, zorder=3 + i, label=r.name)
    ax.set_xlabel('MFLOPs per image')
    ax.set_ylabel('top-1 accuracy (%)')
    ax.set_title('Accuracy vs FLOPs' + ('' if candidates else ' (no NAS candidates: stage not landed)'))
    ax.grid(alpha=0.3)
    ax.margins(x=0.08, y=0.08)
    # Outside the axes: inside, any corner hides stages or candidates on some run.
    ax.legend(fontsize=8, loc='upper left', bbox_to_anchor=(1.02, 1.0))
    pngs['accuracy_vs_flops.png'] = _to_png(fig)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    names = [r.name for r in done]
    ax1.bar(names, [r.accuracy for r in done], color='tab:blue')
    ax1.set_ylim(min([r.accuracy for r in done] + [90]) - 5, 100)
    ax1.set_title('top-1 accuracy (%)')
    ax2.bar(names, [r.onnx_bytes / 1024 for r in done], color='tab:orange')
    ax2.set_title('ONNX file size (KiB)')
    for ax in (ax1, ax2):
        ax.tick_params(axis='x', rotation=30)
    fig.tight_layout()
    pngs['stages.png'] = _to_png(fig)
    plt.close('all')
    return pngs


def _to_png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=110, bbox_inches='tight')
    return buffer.getvalue()


def write_report(work_dir: Path, results: list[Any], quick: bool) -> str:
    """Write ``report.md``, ``report.html`` and the PNG plots into ``work_dir``; returns the table."""
    table = markdown_table(results)
    machine = (f'{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, '
               f'{"--quick" if quick else "full"} run')
    pngs = _plots(results)
    for name, data in pngs.items():
        atomic_write_bytes(work_dir / name, data)
    md = [f'# razor_ext demo report\n\nMNIST-5k (500 test images), {machine}.\n', table, '',
          'FLOPs count 2 per multiply-add (torch FlopCounterMode), one 28x28 image. Latency: onnxruntime '
          'and OpenVINO (CPU, "-" where not installed), batch 1, median of 50 runs, '
          f'{torch.get_num_threads()} threads. Every ONNX file was verified against PyTorch in onnxruntime.',
          '', DEPLOYMENT_NOTE, '']
    md += [f'![{name}]({name})' for name in pngs]
    atomic_write_text(work_dir / 'report.md', '\n'.join(md) + '\n')
    head = ''.join(f'<th>{html.escape(c)}</th>' for c in _COLUMNS)
    rows = ''.join('<tr class="{}">'.format(r.status.replace(' ', '-')) +
                   ''.join(f'<td>{html.escape(cell)}</td>' for cell in _row(r)) + '</tr>' for r in results)
    images = ''.join(f'<figure><img alt="{n}" src="data:image/png;base64,{base64.b64encode(d).decode()}">'
                     f'<figcaption>{html.escape(n)}</figcaption></figure>' for n, d in pngs.items())
    page = f'''<!doctype html><html><head><meta charset="utf-8"><title>razor_ext demo report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child,td:last-child,th{{text-align:left}}
tr.not-landed{{color:#888}}tr.failed{{background:#fdd}}figure{{display:inline-block;margin:1em}}</style></head>
<body><h1>razor_ext demo report</h1><p>MNIST-5k (500 test images), {html.escape(machine)}.</p>
<table><tr>{head}</tr>{rows}</table>
<p>FLOPs count 2 per multiply-add (torch FlopCounterMode), one 28x28 image. Latency: onnxruntime CPU,
batch 1, median of 50 runs; OpenVINO likewise where installed. Every ONNX file was verified against
PyTorch in onnxruntime. {html.escape(DEPLOYMENT_NOTE)} Rows marked
"not landed" are stages whose library is not in this build: they are reported, not faked.</p>
{images}</body></html>'''
    atomic_write_text(work_dir / 'report.html', page)
    return table
