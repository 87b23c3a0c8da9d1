"""The joint demo's ``report.md``: both fronts of one runtime as the README shows them."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ['joint_report_markdown']

_NAMES = ('search, then int8', 'joint')


def _subnet(choices: Mapping[str, Any]) -> str:
    units: dict[str, dict[str, Any]] = {}
    for key, value in choices.items():
        unit, _, what = key.rpartition('.')
        units.setdefault(unit, {})[what] = value
    parts = []
    for unit, c in units.items():
        arch = '/'.join(str(c[k]) for k in ('op', 'width') if k in c)
        bits = f"w{c.get('weight_bits', '?')}a{c.get('act_bits', '?')}"
        parts.append(f'{unit}: {arch + " " if arch else ""}{bits}')
    return '; '.join(parts)


def joint_report_markdown(report: Mapping[str, Any]) -> str:
    """Markdown of a ``run_joint_demo`` report: host, budget, both fronts (predicted and
    measured latency, test accuracy), the winners timed together, the table's prediction error.

    Example:
        >>> fin = [dict(predicted_ms=0.2, measured_ms=0.21, test_accuracy=0.9)]
        >>> best = dict(measured_ms=0.21, predicted_ms=0.2, test_accuracy=0.9, subnet={'stem.weight_bits': 8})
        >>> rep = {'runtime': 'onnxruntime', 'host': {'cpu': 'X', 'flags': ['avx2'], 'threads': 1},
        ...        'budget_ms': 0.3, 'batch': 8, 'table_entries': 3, 'unit_timing': 'alone/min',
        ...        'search, then int8': {'best': best, 'finals': fin}, 'joint': {'best': best, 'finals': fin},
        ...        'prediction': dict(mean_error=0.05, max_error=0.1, measured_ms=[0.2])}
        >>> '| joint | 0.200 | 0.210 | yes | 90.0 |' in joint_report_markdown(rep)
        True
    """
    host = report['host']
    lines = [f"{report['runtime']}, CPU `{host['cpu']}` with {', '.join(host['flags'])}, "
             f"{host['threads']} thread(s), batch {report['batch']}; latency = minimum of the timed "
             f"runs. Budget {report['budget_ms']:.3f} ms. Latency table: {report['table_entries']} "
             f"entries, unit timing `{report.get('unit_timing')}`"
             + (f", bit pairs {report['bit_pairs']}" if report.get('bit_pairs') else '') + '.',
             '', '| search | predicted ms | measured ms | within budget | test accuracy % |',
             '|---|---|---|---|---|']
    for name in _NAMES:
        for f in report[name]['finals']:
            ok = 'yes' if f['measured_ms'] <= report['budget_ms'] else 'no'
            lines.append(f"| {name} | {f['predicted_ms']:.3f} | {f['measured_ms']:.3f} | {ok} | "
                         f"{100 * f['test_accuracy']:.1f} |")
    lines.append('')
    for name in _NAMES:
        best = report[name]['best']
        lines.append(f"- best **{name}**: {100 * best['test_accuracy']:.1f}% at "
                     f"{best['measured_ms']:.3f} ms: {_subnet(best['subnet'])}")
    h2h = report.get('head_to_head')
    if h2h:
        lines.append('- the two winners timed together, round robin: ' + '; '.join(
            f"{n} {h2h[n]['min_ms']:.3f} ms (median {h2h[n]['median_ms']:.3f})" for n in _NAMES))
    p = report['prediction']
    lines.append(f"- table vs exact measurement of {len(p['measured_ms'])} random subnets: mean "
                 f"error {100 * p['mean_error']:.1f}%, max {100 * p['max_error']:.1f}%")
    return '\n'.join(lines) + '\n'
