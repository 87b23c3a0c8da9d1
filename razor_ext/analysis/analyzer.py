"""``ChannelAnalyzer``: find the channel units of a model from one traced forward."""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from razor_ext.analysis.atoms import AtomTable, Position, Resolved
from razor_ext.analysis.propagation import Propagator
from razor_ext.analysis.sizes import SizeBinding
from razor_ext.analysis.unit import ChannelUnit
from razor_ext.analysis.tracer import (FunctionRecorder, frozen_state,
                                       module_stack)
from razor_ext.registry import TASK_UTILS

TRACERS = ('auto', 'fx', 'autograd')


class TracerError(RuntimeError):
    """No tracer could follow the model; the message says which failed and why."""


def output_tensors(obj: Any, path: str = 'output') -> list[tuple[str, Tensor]]:
    """(path, tensor) for every tensor in a model output: tensors, tuples, lists, dicts,
    dataclasses (``ModelOutput``-style objects with ``.logits``)."""
    if isinstance(obj, Tensor):
        return [(path, obj)]
    if isinstance(obj, Mapping):
        return [x for k, v in obj.items() for x in output_tensors(v, f'{path}[{k!r}]')]
    if isinstance(obj, (list, tuple)):
        return [x for i, v in enumerate(obj) for x in output_tensors(v, f'{path}[{i}]')]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [x for f in dataclasses.fields(obj)
                for x in output_tensors(getattr(obj, f.name), f'{path}.{f.name}')]
    return []


def split_inputs(example_inputs: Any) -> tuple[tuple, dict]:
    """Positional and keyword example inputs: a tensor, a tuple/list, or a dict of kwargs."""
    if isinstance(example_inputs, Tensor):
        return (example_inputs,), {}
    if isinstance(example_inputs, Mapping):
        return (), dict(example_inputs)
    if isinstance(example_inputs, (list, tuple)):
        return tuple(example_inputs), {}
    raise TypeError('example_inputs must be a tensor, a tuple/list of inputs or a dict of keyword '
                    f'inputs, got {type(example_inputs).__name__}')


def describe_inputs(args: tuple, kwargs: dict) -> str:
    parts = [f'example_inputs[{i}] {tuple(a.shape)}' for i, a in enumerate(args)
             if isinstance(a, Tensor)]
    parts += [f'example_inputs[{k!r}] {tuple(v.shape)}' for k, v in kwargs.items()
              if isinstance(v, Tensor)]
    return ', '.join(parts) or 'example_inputs'


@dataclass
class Analysis:
    """Everything one analysis found: units plus the positions they gather (for pruning)."""

    units: list[ChannelUnit]
    positions: list[Position]
    final: list[np.ndarray]      # per position: final atom of each index
    notes: list[str]
    tracer: str
    ops: int
    resolved: Resolved | None = None
    module_outputs: dict[str, list] = dataclasses.field(default_factory=dict)
    output_paths: list[tuple[str, tuple]] = dataclasses.field(default_factory=list)
    size_bindings: list[SizeBinding] = dataclasses.field(default_factory=list)

    def final_of(self, atoms: np.ndarray) -> np.ndarray:
        """Final atoms of raw atoms (-1 stays -1)."""
        out = np.full(atoms.shape, -1, np.int64)
        ok = atoms >= 0
        out[ok] = self.resolved.final[atoms[ok]]
        return out


@TASK_UTILS.register_module()
class ChannelAnalyzer:
    """Trace one forward and group the model's channels into units pruned together.

    Args:
        tracer: ``'fx'`` (torch.fx graph, conv/linear/norm layers as leaves), ``'autograd'``
            (record the eager forward that autograd sees: data-dependent control flow, kwargs,
            dataclass outputs) or ``'auto'`` (fx, else autograd).
        demo_input: unused, accepted for MMRazor config compatibility.

    The model's weights, buffers and train/eval flags are left exactly as they were.

    Example:
        >>> import torch
        >>> m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        >>> units = ChannelAnalyzer(tracer='fx').analyze(m, torch.randn(2, 4))
        >>> [(u.name, u.prunable) for u in units]
        [('0_(0, 4)_4', False), ('0_(0, 8)_8', True), ('2_(0, 2)_2', False)]
    """

    def __init__(self, tracer: str = 'auto', demo_input: Any = None, **kwargs: Any) -> None:
        if tracer not in TRACERS:
            raise ValueError(f'tracer must be one of {TRACERS}, got {tracer!r}')
        self.tracer = tracer

    def analyze(self, model: nn.Module, example_inputs: Any) -> list[ChannelUnit]:
        """Units of ``model`` for ``example_inputs`` (a tensor, tuple, or dict of kwargs)."""
        return self.run(model, example_inputs).units

    def run(self, model: nn.Module, example_inputs: Any) -> Analysis:
        if not isinstance(model, nn.Module):
            raise TypeError(f'model must be an nn.Module, got {type(model).__name__}')
        args, kwargs = split_inputs(example_inputs)
        order = ['fx', 'autograd'] if self.tracer == 'auto' else [self.tracer]
        errors = []
        for tracer in order:
            try:
                runner: Any = model
                if tracer == 'fx':
                    if kwargs:
                        raise TypeError('fx traces positional inputs only')
                    runner = torch.fx.symbolic_trace(model)
                try:
                    # Shapes only: meta tensors skip the arithmetic (a ResNet-50 forward at 224
                    # costs more than the whole analysis otherwise).
                    return self._run(model, runner, args, kwargs, tracer, fake=True)
                except _InputError:
                    raise
                except Exception:  # noqa: BLE001  data-dependent code: run it for real
                    return self._run(model, runner, args, kwargs, tracer, fake=False)
            except _InputError as exc:
                raise ValueError(str(exc)) from exc.__cause__
            except Exception as exc:  # noqa: BLE001  (reported below, per tracer)
                errors.append(f"tracer '{tracer}' failed: {type(exc).__name__}: {exc}")
        raise TracerError('; '.join(errors))

    # ------------------------------------------------------------------ internals
    def _run(self, model: nn.Module, runner: Any, args: tuple, kwargs: dict, tracer: str,
             fake: bool) -> Analysis:
        names: dict[int, str] = {}
        for n, p in model.named_parameters():
            names.setdefault(id(p), n)
        buffers: set[int] = set()
        for n, b in model.named_buffers():
            if b is not None:
                names.setdefault(id(b), n)
                buffers.add(id(b))
        table = AtomTable()
        prop = Propagator(names, buffers, table, model)
        if tracer == 'fx':
            runner = _ScopedGraph(runner, prop.scope)
        with contextlib.ExitStack() as ctx:
            ctx.enter_context(frozen_state(model))
            module_outputs: dict[str, list] = {}

            def on_output(name: str, out: Any) -> None:
                if name not in module_outputs:
                    module_outputs[name] = [(p, prop.labels(t)) for p, t in output_tensors(out)]

            stack = ctx.enter_context(module_stack(model, on_output))
            if fake:
                args = tuple(a.to('meta') if isinstance(a, Tensor) else a for a in args)
                kwargs = {k: v.to('meta') if isinstance(v, Tensor) else v
                          for k, v in kwargs.items()}
            recorder = FunctionRecorder(prop.handle, stack, meta=fake)
            try:
                with recorder:
                    out = runner(*args, **kwargs)
            except RuntimeError as exc:
                if not fake and _looks_like_shape_error(exc):
                    where = stack.failed or (stack[-1] if stack else 'the model')
                    raise _InputError(f'{describe_inputs(args, kwargs)} does not fit the model: '
                                      f'{where} raised {exc}') from exc
                raise
        outs = output_tensors(out)
        if not outs:
            raise TypeError(f'the forward returned no tensor ({type(out).__name__})')
        for path, t in outs:
            prop.block_tensor(t, f'reaches the model output {path}')
        prop.finish_slices()
        analysis = _build(table, table.resolve(), tracer, prop.ops_seen)
        final = analysis.final_of
        analysis.module_outputs = {
            name: [(p, tuple(None if lab is None else final(lab) for lab in labels))
                   for p, labels in outs] for name, outs in module_outputs.items()}
        analysis.output_paths = [(p, tuple(t.shape)) for p, t in outs]
        analysis.size_bindings = prop.size_bindings
        return analysis


class _ScopedGraph(torch.fx.Interpreter):
    """Runs an fx graph node by node, telling ``scope[0]`` which module's code each node came
    from (fx inlines non-leaf modules, so no module hook says it)."""

    def __init__(self, gm: torch.fx.GraphModule, scope: list[str]) -> None:
        super().__init__(gm)
        self.scope = scope
        self._scopes = {n: next(reversed(n.meta['nn_module_stack']))
                        if n.meta.get('nn_module_stack') else '' for n in gm.graph.nodes}

    def run_node(self, n: torch.fx.Node) -> Any:
        self.scope[0] = self._scopes[n]
        return super().run_node(n)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(*args)


class _InputError(Exception):
    pass


def _looks_like_shape_error(exc: Exception) -> bool:
    text = str(exc)
    return any(k in text for k in ('shape', 'size', 'expected', 'channels', 'dimension', 'mat1'))


def _build(table: AtomTable, res: Resolved, tracer: str, ops: int) -> Analysis:
    final = [res.final[p.atoms] for p in table.positions]
    # No per-position np.unique: ``sig[u] += r`` adds once per distinct index anyway, and
    # unique over a 32000-row vocabulary dim per position was a tenth of a Llama's analysis.
    uniq = final
    n = table.n
    rng = np.random.default_rng(0)
    sig = np.zeros(n, np.uint64)
    for u in uniq:
        sig[u] += np.uint64(rng.integers(1, 2**63, dtype=np.int64))
    all_atoms = np.unique(np.concatenate(uniq)) if uniq else np.zeros(0, np.int64)
    keys, inverse = np.unique(sig[all_atoms], return_inverse=True)
    order = np.argsort(inverse, kind='stable')
    bounds = np.searchsorted(inverse[order], np.arange(len(keys) + 1))
    groups: list[np.ndarray] = [all_atoms[order[bounds[k]:bounds[k + 1]]] for k in range(len(keys))]
    group_of = np.full(n, -1, np.int64)
    for k, g in enumerate(groups):
        group_of[g] = k
    touching: list[list[int]] = [[] for _ in groups]
    if uniq:
        # (group, position) pairs in one unique over all positions, positions ascending
        n_pos = len(uniq)
        pair = np.unique(np.concatenate([group_of[u] * n_pos + i for i, u in enumerate(uniq)]))
        for k, i in zip((pair // n_pos).tolist(), (pair % n_pos).tolist()):
            touching[k].append(i)
    # Order units by the first position (trace order) they touch.
    ranked = sorted(range(len(groups)), key=lambda k: touching[k][0])
    units = []
    members = np.zeros(n, bool)
    for k in ranked:
        g = groups[k]
        members[:] = False
        members[g] = True
        pos_idx = touching[k]
        out_rel: list[tuple[str, int, int]] = []
        in_rel: list[tuple[str, int, int]] = []
        first = None
        for i in pos_idx:
            p = table.positions[i]
            idx = np.nonzero(members[final[i]])[0]
            module = p.key.rsplit('.', 1)[0] if '.' in p.key else p.key
            entry = (module, int(idx.min()), int(idx.max()) + 1)
            target = in_rel if p.role == 'in' else out_rel
            if entry not in target:
                target.append(entry)
            if first is None or (p.role == 'out' and first[3] != 'out'):
                first = (module, entry[1], entry[2], p.role, idx.size)
        blocked = [res.blocked[a] for a in g[:64].tolist() if a in res.blocked]
        if not blocked:
            blocked = [res.blocked[a] for a in g.tolist() if a in res.blocked][:1]
        reason = blocked[0] if blocked else ''
        if not reason and g.size < 2:
            reason = ('all its channels form one group (tied by a channel shuffle, chunk or '
                      'reshape), and removing it would remove the layer')
        count = int(first[4])
        units.append(ChannelUnit(
            name=f'{first[0]}_({first[1]}, {first[2]})_{count}', num_channels=count,
            output_related=out_rel, input_related=in_rel, prunable=not reason, reason=reason,
            atoms=g, positions=pos_idx, divisor=max(1, count // max(1, g.size))))
    return Analysis(units, table.positions, final, res.notes, tracer, ops, res)
