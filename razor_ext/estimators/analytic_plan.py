"""``AnalyticPlan``: a supernet's FLOPs and parameters for its current choices, computed from
a recorded call list and the mutables' choices, with no forward and no copy.

Why: an evolutionary search estimates thousands of candidates; a counted forward of a
ResNet-50-sized supernet costs ~100 ms, reading the choices costs well under 1 ms.

How the plan is built (once per supernet and input shape): a handful of *probe* forwards
(max, min and sampled subnets) are recorded under ``FlopCounterMode``. For every module that
ran, the plan keeps

- its *gates*: the elastic-depth :class:`DynamicSequential` positions and
  :class:`OneShotMutableOP` candidates it sits in, which decide whether it runs (a module that
  skips a child on another condition says so with a ``runs_child(name) -> bool`` method);
- its input shape, each dimension explained as a constant or as the value of a mutable (an
  input width is the value of the mutable that set the producer's width);
- a FLOP formula: convolutions and linears (static or dynamic) by their active shape; every
  other module must have counted 0 FLOPs in every probe.

The plan is then checked against counted forwards of further sampled subnets; any module it
cannot explain (a module with FLOPs called twice, FLOPs outside convs/linears/attention, a
module that runs or not for reasons other than its gates, a dimension no mutable explains) or
any mismatch makes the plan *unusable*, and the estimator falls back to counting a forward, so a result is never
silently wrong on what was checked. ``reason`` says why a plan is unusable.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from razor_ext.supernet.dynamic_ops.dynamic_attention import DynamicMultiheadAttention
from razor_ext.supernet.dynamic_ops.dynamic_conv import DynamicConv2d
from razor_ext.supernet.dynamic_ops.dynamic_linear import DynamicLinear
from razor_ext.supernet.dynamic_ops.dynamic_mixin import MUTABLE_CONTAINERS, DynamicMixin
from razor_ext.supernet.dynamic_ops.dynamic_norm import DynamicBatchNorm2d
from razor_ext.supernet.dynamic_ops.dynamic_sequential import DynamicSequential
from razor_ext.supernet.mutables.base_mutable import BaseMutable
from razor_ext.supernet.mutables.mutable_value import DerivedMutable
from razor_ext.supernet.mutables.one_shot_mutable_op import OneShotMutableOP
from razor_ext.supernet.nas_mutator import NasMutator

#: sampled subnets recorded to build a plan (besides max and min), and checked against it after
NUM_BUILD_PROBES, NUM_CHECK_PROBES = 8, 3


class _ShapeOnly:
    """What ``count_active_params`` reads of its input: the shape."""

    __slots__ = ('shape',)

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape


class _Const:
    """A constant in the value list (reads like a mutable)."""

    __slots__ = ('current_choice',)

    def __init__(self, value: int) -> None:
        self.current_choice = value


class _Record:
    """What one probe forward saw of one module."""

    __slots__ = ('in_shape', 'out_shape', 'flops', 'calls')

    def __init__(self) -> None:
        self.in_shape: tuple[int, ...] | None = None
        self.out_shape: tuple[int, ...] | None = None
        self.flops, self.calls = 0, 0


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return next((t for t in map(_first_tensor, value) if t is not None), None)
    return None


def _record_forward(model: nn.Module, x: torch.Tensor) -> dict[int, _Record]:
    """One counted forward: per module (by id) its input/output shapes and own FLOPs."""
    inside = {id(m) for m in model.modules()}
    records: dict[int, _Record] = {}
    stack: list[list[int]] = []  # [module id, FLOPs at entry, FLOPs of its children]
    counter = FlopCounterMode(display=False)

    def total() -> int:
        return int(counter.get_total_flops())

    def pre(module: nn.Module, args: Any) -> None:
        if id(module) in inside:
            rec = records.setdefault(id(module), _Record())
            rec.calls += 1
            t = _first_tensor(args)
            rec.in_shape = None if t is None else tuple(t.shape)
            stack.append([id(module), total(), 0])

    def post(module: nn.Module, _args: Any, output: Any) -> None:
        if id(module) in inside and stack and stack[-1][0] == id(module):
            _, start, children = stack.pop()
            spent = total() - start
            rec = records[id(module)]
            rec.flops += spent - children
            t = _first_tensor(output)
            rec.out_shape = None if t is None else tuple(t.shape)
            if stack:
                stack[-1][2] += spent

    hooks = [nn.modules.module.register_module_forward_pre_hook(pre),
             nn.modules.module.register_module_forward_hook(post)]
    try:
        with torch.no_grad(), counter:
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return records


class _Unplanned(Exception):
    """A module the probes never saw runs in the current subnet."""


def _unplanned(_values: list[Any]) -> tuple[int, int]:
    raise _Unplanned


class AnalyticPlan:
    """FLOPs and parameters of a supernet's current choices without a forward (see the module
    docstring). Build with :meth:`build`; :attr:`usable` says whether :meth:`estimate` may be
    used, :attr:`reason` why not.

    Example:
        >>> plan = AnalyticPlan.build(supernet, torch.zeros(1, 3, 224, 224))  # doctest: +SKIP
        >>> plan.usable, plan.estimate()  # doctest: +SKIP
        (True, (8180000000, 25500000))
    """

    def __init__(self, reason: str | None = None) -> None:
        self.reason = reason
        # modules grouped by the gates they sit behind: (gates, constant (flops, params) of the
        # static modules, terms of the elastic ones)
        # gates and terms read the mutables' values from one list made per estimate (a derived
        # value is computed once, not once per module reading it)
        self._groups: list[tuple[list[Callable[[list[Any]], bool]], int, int,
                                 list[Callable[[list[Any]], tuple[int, int]]]]] = []
        self._slots: list[Any] = []  # the mutables read, in value-list order
        self._slot_of: dict[Any, int] = {}

    def _slot(self, mutable: Any) -> int:
        """Where ``mutable``'s value (or a constant's) sits in the value list."""
        key = ('const', mutable.current_choice) if isinstance(mutable, _Const) else id(mutable)
        if key not in self._slot_of:
            self._slot_of[key] = len(self._slots)
            self._slots.append(mutable)
        return self._slot_of[key]

    def _values(self) -> list[Any]:
        return [m.current_choice for m in self._slots]

    @property
    def usable(self) -> bool:
        return self.reason is None

    def estimate(self) -> tuple[int, int] | None:
        """``(flops, params)`` of the current choices (raw counts, FLOPs = 2 x multiply-adds),
        or None when the current subnet runs a module the probes never saw run."""
        if self.reason is not None:
            raise RuntimeError(f'this analytic plan is unusable: {self.reason}')
        flops = params = 0
        values = self._values()
        try:
            for gates, const_flops, const_params, terms in self._groups:
                for gate in gates:
                    if not gate(values):
                        break
                else:
                    flops += const_flops
                    params += const_params
                    for term in terms:
                        f, p = term(values)
                        flops += f
                        params += p
        except _Unplanned:
            return None
        return flops, params

    # building ---------------------------------------------------------------------------
    @classmethod
    def build(cls, model: nn.Module, x: torch.Tensor,
              count_forward: Callable[[nn.Module, torch.Tensor], tuple[int, int]]) -> AnalyticPlan:
        """Record probes of ``model`` on input ``x`` and check the plan against
        ``count_forward(model, x) -> (flops, params)`` on further sampled subnets. The model's
        choices are restored afterwards."""
        mutator = NasMutator()
        try:
            mutator.prepare_from_supernet(model)
        except (ValueError, KeyError, RuntimeError) as err:
            return cls(f'no search groups: {err}')
        saved = mutator.current_choices
        if all(any(m.is_fixed for m in members) for members in mutator.search_groups.values()):
            return cls('every mutable is fixed: a single forward counts it')
        rng = random.Random(0)  # probes must not move the caller's random state
        state = random.getstate()
        try:
            random.seed(rng.random())
            return cls._build(model, x, mutator, count_forward)
        finally:
            random.setstate(state)
            mutator.set_choices(saved)

    @classmethod
    def _build(cls, model: nn.Module, x: torch.Tensor, mutator: NasMutator,
               count_forward: Callable[[nn.Module, torch.Tensor], tuple[int, int]]) -> AnalyticPlan:
        modules = {id(m): m for m in model.modules()}
        parents = {id(child): (parent, name) for parent in model.modules()
                   for name, child in parent.named_children()}
        gate_groups = {g for g, members in mutator.search_groups.items()
                       if any(isinstance(p, DynamicSequential) and p.get_mutable_attr('depth') is members[0]
                              for p in model.modules())}
        sources = cls._sources(model)

        settings = [mutator.sample_choices('max'), mutator.sample_choices('min')]
        for i in range(NUM_BUILD_PROBES):
            choices = mutator.sample_choices('random')
            if i % 2 == 0:  # every depth at its max: deep blocks are seen at many widths
                choices.update({g: mutator.search_groups[g][0].max_choice for g in gate_groups})
            settings.append(choices)
        op_groups = {g: members[0].choices for g, members in mutator.search_groups.items()
                     if isinstance(members[0], OneShotMutableOP)}
        widest = max((len(c) for c in op_groups.values()), default=0)
        for i in range(2 * widest):  # every one-shot candidate, twice, among random others
            choices = mutator.sample_choices('random')
            choices.update({g: c[i % len(c)] for g, c in op_groups.items()})
            settings.append(choices)
        fixed = {g: members[0].current_choice for g, members in mutator.search_groups.items()
                 if any(m.is_fixed for m in members)}
        for choices in settings:
            choices.update(fixed)
        probes = []  # (records, source values) per probe
        for choices in settings:
            mutator.set_choices(choices)
            records = _record_forward(model, x)
            probes.append((records, [s.current_choice for s in sources]))

        plan = cls()
        gates_of = {i: plan._gates(m, parents) for i, m in modules.items()}
        seen = {i for records, _ in probes for i in records}
        terms = {}
        for i in seen:
            term = plan._explain_module(modules[i], [(r.get(i), v) for r, v in probes], sources)
            if isinstance(term, str):
                return cls(term)
            terms[i] = term
        for choices, (records, _) in zip(settings, probes):
            mutator.set_choices(choices)
            values = plan._values()
            for i in seen:
                name = type(modules[i]).__name__
                if all(gate(values) for _, gate in gates_of[i]) != (i in records):
                    return cls(f'a {name} runs or not for reasons other than elastic depth and '
                               f'one-shot candidates (e.g. a branch on a width)')
                term = terms[i]
                flops = term[0] if isinstance(term, tuple) else term(values)[0]
                if i in records and flops != records[i].flops:
                    return cls(f'a {name} counted {records[i].flops} FLOPs where its formula gives '
                               f'{flops}')
        # a module that never ran although its gates were open is not used by the forward
        # (a container, an unused head); one whose gates were always shut may run in subnets
        # the probes missed: the plan cannot count it, so it falls back to a forward then
        never_open = set(i for i in modules if i not in seen)
        for choices in settings:
            mutator.set_choices(choices)
            values = plan._values()
            never_open -= {i for i in never_open if all(gate(values) for _, gate in gates_of[i])}
        plan._group({i: terms[i] for i in seen} | {i: _unplanned for i in never_open}, gates_of)

        for _ in range(NUM_CHECK_PROBES):
            mutator.set_choices({**mutator.sample_choices('random'), **fixed})
            want = count_forward(model, x)
            got = plan.estimate()
            if got != want:
                return cls(f'the plan gives (flops, params) {got} where a counted forward gives {want} '
                           f'for choices {mutator.current_choices}')
        return plan

    def _group(self, terms: dict[int, Any],
               gates_of: dict[int, list[tuple[tuple[int, str], Callable[[list[Any]], bool]]]]) -> None:
        """Group the terms by their gates (outermost first), folding constant ones."""
        groups: dict[tuple, list[Any]] = {}
        for i, term in terms.items():
            keys = tuple(key for key, _ in reversed(gates_of[i]))
            group = groups.setdefault(keys, [[gate for _, gate in reversed(gates_of[i])], 0, 0, []])
            if isinstance(term, tuple):
                group[1] += term[0]
                group[2] += term[1]
            else:
                group[3].append(term)
        self._groups = [tuple(g) for g in groups.values() if g[1] or g[2] or g[3]]  # type: ignore[misc]

    def _gates(self, module: nn.Module, parents: dict[int, tuple[nn.Module, str]]
               ) -> list[tuple[tuple[int, str], Callable[[list[Any]], bool]]]:
        """The conditions under which ``module`` runs: elastic-depth positions and one-shot
        candidates it sits in."""
        gates: list[tuple[tuple[int, str], Callable[[list[Any]], bool]]] = []  # (key, condition)
        child = module
        while id(child) in parents:
            parent, name = parents[id(child)]
            if name in MUTABLE_CONTAINERS:
                pass  # a mutable, not a block
            elif isinstance(parent, DynamicSequential) and parent.get_mutable_attr('depth') is not None:
                depth = parent.get_mutable_attr('depth')
                index = [n for n in parent._modules if n not in MUTABLE_CONTAINERS].index(name)
                gates.append(((id(parent), name), lambda v, j=self._slot(depth), i=index: i < v[j]))
            elif isinstance(parent, nn.ModuleDict) and id(parent) in parents:
                owner = parents[id(parent)][0]
                if isinstance(owner, OneShotMutableOP):
                    gates.append(((id(owner), name), lambda v, j=self._slot(owner), n=name: v[j] == n))
            elif hasattr(parent, 'runs_child'):  # a module that skips a child on a condition
                gates.append(((id(parent), name), lambda _v, p=parent, n=name: p.runs_child(n)))
            child = parent
        return gates

    @staticmethod
    def _sources(model: nn.Module) -> list[Any]:
        """Every mutable whose value may be a tensor dimension: searchable ones and derived ones."""
        found: dict[int, Any] = {}
        for m in model.modules():
            if isinstance(m, BaseMutable):
                found.setdefault(id(m), m)
            if isinstance(m, DynamicMixin):
                for d in list(m.mutable_attrs.values()) + list(m._derived_attrs.values()):
                    found.setdefault(id(d), d)
        return list(found.values())

    def _explain_module(self, module: nn.Module, present: list[tuple[_Record | None, list[Any]]],
                        sources: list[Any]) -> Callable[[list[Any]], tuple[int, int]] | tuple[int, int] | str:
        """``module``'s ``(flops, params)`` term, or why it cannot be explained."""
        name = type(module).__name__
        seen = [(rec, values) for rec, values in present if rec is not None]
        if any(rec.calls > 1 for rec, _ in seen):
            # a shared activation or pool is fine: no FLOPs, parameters counted once
            if isinstance(module, DynamicMixin) or any(rec.flops for rec, _ in seen):
                return f'a {name} runs more than once in a forward'
            return 0, sum(p.numel() for p in module.parameters(recurse=False))
        shapes = [rec.in_shape for rec, _ in seen]
        in_dims: list[int] = []  # value-list slots of the input's dimensions
        if shapes[0] is not None:
            if any(s is None or len(s) != len(shapes[0]) for s in shapes):
                return f'a {name} takes inputs of changing rank'
            for d in range(len(shapes[0])):
                slot = self._explain([s[d] for s in shapes], [v for _, v in seen], sources, module)
                if slot is None:
                    return f'no mutable explains dimension {d} of the input of a {name}'
                in_dims.append(slot)
        return self._term(module, in_dims, [rec.out_shape for rec, _ in seen])

    def _explain(self, observed: list[int], values: list[list[Any]], sources: list[Any],
                 module: nn.Module) -> int | None:
        """The slot of the value that equals one input dimension in every probe: a constant,
        or a mutable (the module's own first)."""
        if all(v == observed[0] for v in observed):
            return self._slot(_Const(observed[0]))
        own = {id(m) for m in (module.mutable_attrs.values() if isinstance(module, DynamicMixin) else [])}
        order = sorted(range(len(sources)), key=lambda j: id(sources[j]) not in own)
        for j in order:
            if all(v[j] == o for v, o in zip(values, observed)):
                return self._slot(sources[j])
        return None

    def _term(self, module: nn.Module, in_dims: list[int], out_shapes: list[tuple[int, ...] | None]
              ) -> Callable[[list[Any]], tuple[int, int]] | tuple[int, int] | str:
        """``module``'s ``(flops, params)``: a constant, a function of the value list, or why it
        cannot be counted. Mutables are read directly (``current_choice``): their setters
        already validated the choices."""
        name = type(module).__name__
        positions = 0
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            if any(s is None for s in out_shapes):
                return f'a {name} with no tensor output'
            spatial = [s[:1] + s[2:] if isinstance(module, nn.Conv2d) else s[:-1] for s in out_shapes]
            if any(s != spatial[0] for s in spatial):
                return f'the output size of a {name} changes with the choices'
            positions = math.prod(spatial[0])  # type: ignore[arg-type]

        def choice(attr: str, full: int) -> int:
            mutable = module.get_mutable_attr(attr)  # type: ignore[union-attr]
            return self._slot(_Const(full) if mutable is None else mutable)

        if isinstance(module, DynamicConv2d):
            bias, depthwise, cin_at = module.bias is not None, module.depthwise, in_dims[1]
            cout_at, k_at = choice('out_channels', module.out_channels), choice('kernel_size', module.kernel_size[0])

            def conv(v: list[Any]) -> tuple[int, int]:
                cin, k = v[cin_at], v[k_at]
                cout = cin if depthwise else v[cout_at]
                per_out = (1 if depthwise else cin) * k * k
                return 2 * positions * cout * per_out, cout * per_out + (cout if bias else 0)
            return conv
        if isinstance(module, DynamicLinear):
            bias, cin_at = module.bias is not None, in_dims[-1]
            cout_at = choice('out_features', module.out_features)

            def linear(v: list[Any]) -> tuple[int, int]:
                cin, cout = v[cin_at], v[cout_at]
                return 2 * positions * cin * cout, cout * cin + (cout if bias else 0)
            return linear
        if isinstance(module, DynamicMultiheadAttention):
            heads_at, head_dims, params_of = choice('num_heads', module.num_heads), module.head_dims, \
                module.count_active_params

            def attention(v: list[Any]) -> tuple[int, int]:
                n, tokens, e = (v[j] for j in in_dims)
                inner = v[heads_at] * head_dims
                # q, k, v and output projections + the two attention matmuls
                flops = 8 * n * tokens * e * inner + 4 * n * tokens * tokens * inner
                return flops, params_of(_ShapeOnly((n, tokens, e)))
            return attention
        if isinstance(module, DynamicBatchNorm2d):
            per_channel, c_at = 2 if module.affine else 0, in_dims[1]
            return lambda v: (0, per_channel * v[c_at])
        if isinstance(module, DynamicSequential):
            return 0, 0
        if isinstance(module, DynamicMixin):
            params_of = module.count_active_params
            return lambda v: (0, params_of(_ShapeOnly(tuple(v[j] for j in in_dims))))
        params = sum(p.numel() for p in module.parameters(recurse=False))
        if isinstance(module, nn.Conv2d):
            return 2 * positions * module.out_channels * module.weight[0].numel(), params
        if isinstance(module, nn.Linear):
            return 2 * positions * module.out_features * module.in_features, params
        return 0, params
