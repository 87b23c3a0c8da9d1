"""Size attributes: which integer attribute of which module the model's code reads as the size of
a channel dim, found from the sizes that flow into reshapes, views, expands and splits.

A mixin of :class:`~razor_ext.analysis.propagation.Propagator`. When an op such as
``x.reshape(b, self.hidden_dim, n)`` gives a labelled (prunable) dim a size passed as a Python
integer, that integer came from a tensor's size (``x.shape[1]``: it follows pruning by itself),
from an attribute (``self.hidden_dim``, ``self.config.num_heads``: pruning must update it), or from
arithmetic the trace cannot see. The first two are recognised by value among the sizes read from
tensors in the same module and the integer attributes of the module, its parents and the model's
``config``; an attribute found is *bound* to the dim's atoms (pruning sets it to the count kept);
an integer found nowhere keeps the dim's channels whole, the report naming op and size.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import Size, Tensor, nn

# ops that take output sizes as Python ints: name -> how to read (size, out dim) pairs
_SIZED = frozenset({'view', 'reshape', 'expand', 'unflatten', 'split', 'new_zeros', 'new_ones',
                    'new_empty', 'new_full'})


@dataclass
class SizeBinding:
    """Attribute ``attr`` of ``owner`` (a module path, ``''`` the model, or ``'config'`` for
    ``model.config``) is read as the size of a dim whose indices hold the raw atoms ``labels``
    (``(size,)``, ``-1`` for a fixed index); ``where`` names the op."""

    owner: str
    attr: str
    labels: np.ndarray
    where: str
    scale: int = 1  # the attribute times ``scale`` is the size (heads x head_dim)


def _ints(seq: Any) -> list | None:
    if isinstance(seq, (tuple, list)):
        return list(seq)
    return None


def size_args(name: str, args: tuple, kwargs: dict, out: Any) -> list[tuple[Any, Tensor, int]]:
    """``(size given, output tensor, dim)`` for every output size ``name`` was given."""
    if name in ('view', 'reshape', 'expand'):
        sizes = list(args[1:]) or _ints(kwargs.get('shape', kwargs.get('size')))
        if sizes and len(sizes) == 1 and _ints(sizes[0]) is not None:
            sizes = _ints(sizes[0])
        if not isinstance(out, Tensor) or not sizes or len(sizes) != out.dim():
            return []
        return [(s, out, d) for d, s in enumerate(sizes)]
    if name == 'unflatten' and isinstance(out, Tensor):
        dim = args[1] if len(args) > 1 else kwargs.get('dim')
        sizes = _ints(args[2] if len(args) > 2 else kwargs.get('sizes'))
        if not isinstance(dim, int) or sizes is None:
            return []
        d0 = dim + args[0].dim() if dim < 0 else dim
        return [(s, out, d0 + k) for k, s in enumerate(sizes)]
    if name == 'split' and isinstance(out, (tuple, list)):
        size = args[1] if len(args) > 1 else kwargs.get('split_size_or_sections',
                                                         kwargs.get('split_size'))
        dim = args[2] if len(args) > 2 else kwargs.get('dim', 0)
        if not isinstance(dim, int) or not out:
            return []
        sizes = [size] * len(out) if isinstance(size, int) else _ints(size) or []
        return [(s, o, dim % o.dim()) for s, o in zip(sizes, out) if isinstance(o, Tensor)]
    return []


class SizeRules:
    """Finds the attributes behind sizes (see the module docstring)."""

    model: nn.Module | None = None

    def init_sizes(self, model: nn.Module | None) -> None:
        self.model = model
        self.size_bindings: list[SizeBinding] = []
        self._reads: dict[str, set[int]] = {}
        self._attr_cache: dict[str, dict[int, list[str]]] = {}
        self._bound: dict[tuple[str, str], np.ndarray] = {}
        self.scope: list[str] = ['']  # fx: the module whose code is running (set per node)

    def where_module(self, module: str) -> str:
        """The module whose code runs the op: the innermost module called, or under fx (whose
        graph inlines non-leaf modules) the scope of the node being run."""
        return module or self.scope[0]

    def record_read(self, name: str, args: tuple, out: Any, module: str) -> None:
        """``x.shape`` / ``x.size()`` of a labelled dim: sizes that follow pruning by themselves."""
        if self.model is None or not args or not isinstance(args[0], Tensor):
            return
        x = args[0]
        values = self._reads.setdefault(self.where_module(module), set())
        if id(x) in self.names:
            # A parameter's or buffer's own size (``self.weight.shape[0]``): it follows pruning.
            # Reading it must not create (or, for a buffer, block) its atoms.
            values.update(int(s) for s in x.shape if s > 1)
            return
        lab = self.labels(x, module)
        if isinstance(out, int) and not isinstance(out, bool):
            d = args[1] if len(args) > 1 else None
            if isinstance(d, int) and -x.dim() <= d < x.dim() and lab[d] is not None:
                values.add(out)
            return
        if isinstance(out, Size):
            for d, size in enumerate(out):
                if d < len(lab) and lab[d] is not None:
                    values.add(int(size))

    def bind_sizes(self, name: str, args: tuple, kwargs: dict, out: Any, where: str,
                   module: str) -> None:
        """Bind (or, when untraceable, block) every labelled output dim given an int size."""
        if self.model is None or name not in _SIZED:
            return
        scope = self.where_module(module)
        sized = []
        for size, t, d in size_args(name, args, kwargs, out):
            if isinstance(size, bool) or not isinstance(size, int) or size <= 1:
                continue
            lab = self.labels(t, module)[d] if d < t.dim() else None
            if lab is not None and not (lab < 0).all():
                sized.append((size, lab, d))
        for k, (size, lab, d) in enumerate(sized):
            found = self._attributes(scope, size)
            same = [] if name == 'split' else [j for j, (v, _, _) in enumerate(sized)
                                                 if v == size and j != k]
            # Several dims of one op with one value (8 heads of 8; 3 of q/k/v and 3 heads): the
            # trace cannot say which the attribute sizes, so the binding is loose (pruning sets
            # the attribute only if exactly one of its dims changes size).
            tie = len(found) == 1 and not same
            if len(found) > 1 and same:
                # an op splitting a dim in two equal sizes gives the outer one (heads) a count's
                # name, the inner one (head dim) a size's name
                outer = any(j > k for j in same)
                found = [(o, a) for o, a in found if _is_count(a) == outer]
                tie = len(found) == 1
            if found:
                for owner, attr in found:
                    self._bind(owner, attr, lab, where, tie)
            elif not self._traceable(scope, size):
                m = self._module(scope)
                cls = f' ({type(m).__name__})' if m is not None else ''
                self.table.block(lab, f'op {where}{cls}: size {size} of dim {d} is neither a '
                                      'size read from a tensor nor an attribute of the module, its '
                                      'parents or the config (computed where the trace cannot see)')

    # ------------------------------------------------------------------ internals
    def _module(self, path: str) -> nn.Module | None:
        try:
            return self.model.get_submodule(path) if path else self.model
        except AttributeError:
            return None

    def _int_attrs(self, path: str) -> dict[int, list[str]]:
        cached = self._attr_cache.get(path)
        if cached is None:
            cached = {}
            if path == 'config':
                obj = getattr(self.model, 'config', None)
                obj = None if isinstance(obj, (dict, nn.Module)) else obj
            else:
                obj = self._module(path)
            for k, v in (vars(obj).items() if hasattr(obj, '__dict__') else ()):
                if type(v) is int:  # not bool
                    cached.setdefault(v, []).append(k)
            self._attr_cache[path] = cached
        return cached

    def _owners(self, scope: str) -> list[str]:
        parts = scope.split('.') if scope else []
        chain = ['.'.join(parts[:i]) for i in range(len(parts), -1, -1)]
        return chain + ['config']

    def _attributes(self, scope: str, size: int) -> list[tuple[str, str]]:
        """The attributes equal to ``size`` of the nearest owner that has any."""
        for owner in self._owners(scope):
            attrs = self._int_attrs(owner).get(size)
            if attrs:
                return [(owner, a) for a in attrs]
        return []

    def _traceable(self, scope: str, size: int) -> bool:
        """``size`` is a size read from a tensor here or in a parent, or a read divided or
        multiplied by an attribute (``C // self.num_heads``)."""
        reads: set[int] = set()
        attrs: set[int] = set()
        for owner in self._owners(scope):
            reads |= self._reads.get(owner, set())
            attrs |= {v for v in self._int_attrs(owner) if v > 1}
        if size in reads:
            return True
        if any(a * b == size for a in attrs for b in attrs):
            return True  # self.num_heads * self.head_dim: both attributes follow pruning
        return any(r % a == 0 and r // a == size or r * a == size for r in reads for a in attrs)

    def bind_scaled(self, owner: str, attr: str, lab: np.ndarray, where: str, scale: int) -> None:
        """Bind ``attr`` of ``owner`` to ``size(lab) / scale`` (a head count of a fused
        projection's slice, see :mod:`razor_ext.analysis.slices`)."""
        self.size_bindings.append(SizeBinding(owner, attr, lab, where, scale))

    def _bind(self, owner: str, attr: str, lab: np.ndarray, where: str, tie: bool) -> None:
        prev = self._bound.get((owner, attr))
        if prev is None:
            if tie:
                self._bound[(owner, attr)] = lab
        elif tie and owner != 'config' and prev is not lab and prev.shape == lab.shape:
            # One attribute read as the size of two dims: they must stay equal in size.
            self.unify(prev, lab, f'op {where}: both sizes are {owner or "the model"}.{attr}')
        self.size_bindings.append(SizeBinding(owner, attr, lab, where))


def _is_count(attr: str) -> bool:
    """Whether an attribute's name says it counts heads/groups rather than sizes one."""
    a = attr.lower()
    return ('head' in a or 'group' in a) and not any(k in a for k in ('dim', 'size', 'width'))


def kept_count(final_labels: np.ndarray, removed: np.ndarray) -> int:
    """Indices of a dim left after removing the final atoms flagged in ``removed``."""
    return int(np.count_nonzero((final_labels < 0) | ~removed[np.maximum(final_labels, 0)]))


def binding_values(bindings: Sequence[SizeBinding], final: Any, removed: np.ndarray
                   ) -> dict[tuple[str, str], set[int]]:
    """New value(s) of every bound attribute; ``final`` maps raw atoms to final atoms; -1 where
    a scaled binding's kept size is not a multiple of its scale."""
    out: dict[tuple[str, str], set[int]] = {}
    for b in bindings:
        kept = kept_count(final(b.labels), removed)
        value = kept // b.scale if kept % b.scale == 0 else -1
        out.setdefault((b.owner, b.attr), set()).add(value)
    return out
