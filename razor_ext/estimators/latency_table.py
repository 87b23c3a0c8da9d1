"""``LatencyTable``: per-unit latencies of a supernet's candidates, measured once per runtime and
CPU, cached on disk, summed to predict a subnet's latency without exporting it.

A *unit* is a module path of the supernet (``'stem'``, ``'blocks.0'``, ``'head'``). Its latency
depends on the choices of the mutables found inside it, in-channel mutables of its dynamic ops
included (the previous unit's width: the context the unit runs in), so its table key is the unit
name plus those choices. Entries hold the unit's time with the runtime's fixed per-call cost (an
identity model on the same input) taken off; a prediction adds that cost back once:
``predict = overhead + sum(entries)``.
"""
from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from razor_ext.fileio import atomic_write_text
from razor_ext.supernet.mutables.base_mutable import BaseMutable

__all__ = ['LatencyTable', 'unit_mutables']


def unit_mutables(model: nn.Module, units: Sequence[str]) -> dict[str, dict[str, list[BaseMutable]]]:
    """``{unit: {search group: [mutables]}}``: the mutables each unit's latency depends on, grouped
    by alias (or module path) as ``NasMutator`` groups them.

    Example:
        >>> from razor_ext.supernet.mutables import OneShotMutableOP
        >>> net = nn.Sequential(OneShotMutableOP({'a': nn.ReLU(), 'b': nn.Identity()}, alias='op'))
        >>> {u: sorted(g) for u, g in unit_mutables(net, ['0']).items()}
        {'0': ['op']}
    """
    paths = {id(m): n for n, m in model.named_modules() if isinstance(m, BaseMutable)}
    out: dict[str, dict[str, list[BaseMutable]]] = {}
    for unit in units:
        groups: dict[str, list[BaseMutable]] = {}
        for m in model.get_submodule(unit).modules():
            if isinstance(m, BaseMutable):
                members = groups.setdefault(m.alias or paths[id(m)], [])
                if all(m is not x for x in members):
                    members.append(m)
        out[unit] = groups
    return out


class LatencyTable:
    """Unit latencies (ms) of one runtime on one CPU; a sum predicts a subnet's latency.

    Args:
        runtime: ``'onnxruntime'``, ``'openvino'``, ``'tensorrt'``...
        units: the supernet's unit module paths, in forward order, covering the whole model.
        signature: where it was measured (:func:`~razor_ext.estimators.runtime_timing.cpu_signature`).

    Example:
        >>> from razor_ext.supernet.mutables import OneShotMutableOP
        >>> net = nn.Sequential(OneShotMutableOP({'a': nn.ReLU(), 'b': nn.Identity()}, alias='op'))
        >>> table = LatencyTable('onnxruntime', ['0'], {'cpu': 'x'})
        >>> table.fill(net, lambda unit: {'a': 3.0, 'b': 1.0}[net[0].current_choice], overhead_ms=0.5)
        2
        >>> net[0].current_choice = 'b'; table.predict(net)
        1.5
    """

    def __init__(self, runtime: str, units: Sequence[str], signature: Mapping[str, Any] | None = None,
                 entries: Mapping[str, float] | None = None, overhead_ms: float = 0.0,
                 context_groups: Mapping[str, Sequence[str]] | None = None) -> None:
        if not units:
            raise ValueError('a LatencyTable needs at least one unit')
        self.runtime, self.units = str(runtime), list(units)
        # {unit: [search groups of other units its latency also depends on]}, e.g. the bit
        # widths of the unit before it (a float -> int8 boundary costs a quantize)
        self.context_groups = {u: list(g) for u, g in (context_groups or {}).items()}
        self.signature = dict(signature or {})
        self.entries: dict[str, float] = dict(entries or {})
        self.overhead_ms = float(overhead_ms)
        self._bound: tuple[int, dict[str, dict[str, list[BaseMutable]]]] | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def _groups(self, model: nn.Module) -> dict[str, dict[str, list[BaseMutable]]]:
        if self._bound is None or self._bound[0] != id(model):
            groups = unit_mutables(model, self.units)
            every = {g: ms for unit_groups in groups.values() for g, ms in unit_groups.items()}
            for unit, extra in self.context_groups.items():
                unknown = [g for g in extra if g not in every]
                if unknown:
                    raise KeyError(f'context groups {unknown} of unit {unit!r} are not search groups '
                                   f'of the model')
                groups[unit] = {**groups[unit], **{g: every[g] for g in extra}}
            self._bound = (id(model), groups)
        return self._bound[1]

    @staticmethod
    def key(unit: str, choices: Mapping[str, Any]) -> str:
        """``'unit|{"group": choice, ...}'`` (sorted, JSON) for the unit's relevant choices."""
        return f'{unit}|{json.dumps(dict(sorted(choices.items())), sort_keys=True)}'

    def current_keys(self, model: nn.Module) -> list[str]:
        """The table keys of ``model``'s current subnet, one per unit (no forward, no copy)."""
        return [self.key(unit, {g: ms[0].current_choice for g, ms in groups.items()})
                for unit, groups in self._groups(model).items()]

    def predict(self, model: nn.Module) -> float:
        """Predicted milliseconds of ``model``'s current subnet: overhead + the units' entries.

        Raises:
            KeyError: a unit choice the table has not measured (fill it first).
        """
        keys = self.current_keys(model)
        missing = [k for k in keys if k not in self.entries]
        if missing:
            raise KeyError(f'the latency table ({self.runtime}) has no entry for {missing[:3]}'
                           f'{" ..." if len(missing) > 3 else ""}; fill() it for this supernet')
        return self.overhead_ms + sum(self.entries[k] for k in keys)

    def fill(self, model: nn.Module, measure_unit: Callable[[str], float],
             overhead_ms: float | None = None,
             progress: Callable[[int, int], None] | None = None,
             allowed: Callable[[dict[str, Any]], bool] | None = None) -> int:
        """Measure every choice combination of every unit not in the table yet.

        For each unit, the choices of its relevant groups are enumerated (others stay as they
        are) and set on ``model``'s mutables, then ``measure_unit(unit)`` gives the unit's
        milliseconds with the per-call overhead already taken off. The model's choices are
        restored afterwards. ``allowed(choice)`` (``{group: value}`` of the unit) skips
        combinations a search never takes.

        Returns:
            the number of entries measured.
        """
        if overhead_ms is not None:
            self.overhead_ms = float(overhead_ms)
        groups_of = self._groups(model)
        saved = {id(m): (m, m.current_choice) for groups in groups_of.values()
                 for ms in groups.values() for m in ms}
        todo = []
        for unit, groups in groups_of.items():
            names = sorted(groups)
            for combo in itertools.product(*(groups[g][0].choices for g in names)):
                choice = dict(zip(names, combo))
                if allowed is not None and not allowed(choice):
                    continue
                if self.key(unit, choice) not in self.entries:
                    todo.append((unit, choice))
        try:
            for i, (unit, choice) in enumerate(todo):
                for g, value in choice.items():
                    for m in groups_of[unit][g]:
                        m.current_choice = value
                self.entries[self.key(unit, choice)] = float(measure_unit(unit))
                if progress is not None:
                    progress(i + 1, len(todo))
        finally:
            for m, value in saved.values():
                m.current_choice = value
        return len(todo)

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        return dict(runtime=self.runtime, units=self.units, signature=self.signature,
                    overhead_ms=self.overhead_ms, entries=self.entries,
                    context_groups=self.context_groups)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the table as JSON, atomically."""
        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, sort_keys=True))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], runtime: str | None = None,
             signature: Mapping[str, Any] | None = None) -> LatencyTable:
        """Read a table; with ``runtime`` / ``signature`` given, a table measured elsewhere raises.

        Raises:
            ValueError: the file was measured with another runtime, CPU or thread count.
        """
        data = json.loads(Path(path).read_text())
        table = cls(data['runtime'], data['units'], data.get('signature'), data.get('entries'),
                    data.get('overhead_ms', 0.0), data.get('context_groups'))
        if runtime is not None and table.runtime != runtime:
            raise ValueError(f'{path}: a {table.runtime} table, not {runtime}')
        if signature is not None and dict(signature) != table.signature:
            raise ValueError(f'{path}: measured on {table.signature}, this host is {dict(signature)}')
        return table

    @classmethod
    def cached(cls, path: str | os.PathLike[str], runtime: str, units: Sequence[str],
               signature: Mapping[str, Any],
               context_groups: Mapping[str, Sequence[str]] | None = None) -> LatencyTable:
        """The table at ``path`` when it matches runtime, units, context groups and host; else a
        new empty one."""
        context = {u: list(g) for u, g in (context_groups or {}).items()}
        if Path(path).exists():
            try:
                table = cls.load(path, runtime, signature)
                if table.units == list(units) and table.context_groups == context:
                    return table
            except (ValueError, KeyError, json.JSONDecodeError):
                pass  # another host's or a broken file: measure again (and overwrite it)
        return cls(runtime, units, signature, context_groups=context)
