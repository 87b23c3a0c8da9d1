"""Pareto fronts of accuracy vs latency, and their plot."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from razor_ext.fileio import atomic_path

__all__ = ['pareto_front', 'plot_fronts']


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated ``(latency, accuracy)`` points (lower latency, higher
    accuracy is better), by increasing latency.

    Example:
        >>> pareto_front([(1.0, 0.5), (2.0, 0.9), (1.5, 0.4), (3.0, 0.9)])
        [0, 1]
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float('-inf')
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def plot_fronts(fronts: Mapping[str, Sequence[tuple[float, float]]], path: str | os.PathLike[str],
                title: str = '', budget_ms: float | None = None) -> Path:
    """Plot each named set of ``(latency ms, accuracy)`` points and its front; written atomically
    (the format follows the suffix, e.g. ``.png``)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in fronts.items():
        if not points:
            continue
        xs, ys = zip(*points)
        line = ax.scatter(xs, ys, s=12, alpha=0.35)
        idx = pareto_front(points)
        ax.plot([points[i][0] for i in idx], [points[i][1] for i in idx], marker='o',
                color=line.get_facecolor()[0][:3], label=name)
    if budget_ms is not None:
        ax.axvline(budget_ms, color='grey', linestyle='--', label='budget')
    ax.set_xlabel('measured latency (ms)')
    ax.set_ylabel('accuracy')
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip('.') or 'png')
    plt.close(fig)
    return path
