"""``analyze``: what pruning would do, told before anything changes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from razor_ext.analysis import Analysis, ChannelAnalyzer, ChannelUnit


@dataclass
class AnalysisReport:
    """Result of :func:`analyze`: the units, and a readable :meth:`report`."""

    analysis: Analysis

    @property
    def units(self) -> list[ChannelUnit]:
        return self.analysis.units

    @property
    def prunable_units(self) -> list[ChannelUnit]:
        return [u for u in self.units if u.prunable]

    def report(self) -> str:
        """Units found, prunable channels, and every unprunable unit with its reason."""
        units = self.units
        prunable = self.prunable_units
        lines = [f'channel analysis (tracer {self.analysis.tracer!r}, {self.analysis.ops} ops '
                 f'touching channels): {len(units)} units, {len(prunable)} prunable, '
                 f'{sum(u.num_channels for u in prunable)} prunable channels']
        for u in prunable:
            atoms = '' if u.divisor == 1 else f' in {u.num_atoms} groups of {u.divisor}'
            lines.append(f'  prunable  {u.name}: {u.num_channels} channels{atoms}, '
                         f'{len(u.modules)} modules')
        for u in units:
            if not u.prunable:
                lines.append(f'  kept      {u.name}: {u.reason}')
        for note in self.analysis.notes:
            lines.append(f'  note      {note}')
        return '\n'.join(lines)

    def __str__(self) -> str:
        return self.report()


def analyze(model: nn.Module, example_inputs: Any, tracer: str = 'auto') -> AnalysisReport:
    """Trace ``model`` once and report its channel units without changing anything.

    Example:
        >>> import torch
        >>> m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        >>> print(analyze(m, torch.randn(2, 4)).report().splitlines()[0])
        channel analysis (tracer 'fx', 3 ops touching channels): 3 units, 1 prunable, 8 prunable channels
    """
    return AnalysisReport(ChannelAnalyzer(tracer).run(model, example_inputs))
