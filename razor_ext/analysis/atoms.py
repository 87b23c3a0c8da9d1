"""Channel atoms: the smallest sets of channels that must be removed together.

Every channel-like position (a row of a conv weight, an element of a BN scale, a column of the
next linear) is labelled with an integer *atom*. Tracing records three kinds of facts about atoms:

* ``unify(a, b)``: the two atoms are the same channel (residual add, a conv feeding a BN, ...);
* ``block(a, reason)``: the channel must stay (it meets the model input or output, an op that is
  not understood, a fixed-size table, ...);
* ``product(elements, axes)``: a reshape split one dim into several (``E -> (heads, head_dim)``)
  or merged several into one; each element is the pair (tuple) of its axis atoms. Only whole
  slices along one axis may be removed (whole heads), so the elements become *owned* by that axis.

``resolve()`` turns the facts into final atoms: connected components of the unions, with product
elements that denote the same axis tuple merged and moved to their owner.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass
class Position:
    """Dim ``dim`` of tensor ``key`` (a parameter or buffer name); index ``i`` holds ``atoms[i]``."""

    key: str
    dim: int
    atoms: np.ndarray
    role: str  # 'out' (produces the channel), 'in' (consumes it), 'norm', 'param' (bare use)
    module: str


@dataclass
class Product:
    elements: np.ndarray          # (E,) element atoms
    axes: list[np.ndarray]        # each (E,): the element's atom along that axis, outer first
    prefer: str                   # 'outer': whole outer slices (heads); 'inner': same inner index
    where: str                    # op and module, for the report
    sizes: tuple[int, ...]


@dataclass
class Resolved:
    final: np.ndarray                       # atom -> final atom (-1 kept as -1 by callers)
    blocked: dict[int, str]                 # final atom -> reason
    notes: list[str] = field(default_factory=list)


class AtomTable:
    """Allocates atoms and records the facts about them (see the module docstring)."""

    def __init__(self) -> None:
        self.n = 0
        self._ua: list[np.ndarray] = []
        self._ub: list[np.ndarray] = []
        self._blocks: list[tuple[np.ndarray, str]] = []
        self.positions: list[Position] = []
        self.products: list[Product] = []

    def new(self, k: int) -> np.ndarray:
        out = np.arange(self.n, self.n + k, dtype=np.int64)
        self.n += k
        return out

    def unify(self, a: np.ndarray, b: np.ndarray, reason: str) -> None:
        """Make ``a[i]`` and ``b[i]`` one channel; where only one side is an atom (-1: a fixed
        element), that atom is blocked with ``reason``."""
        both = (a >= 0) & (b >= 0)
        if both.all():
            self._ua.append(a)
            self._ub.append(b)
            return
        if both.any():
            self._ua.append(a[both])
            self._ub.append(b[both])
        lone = np.concatenate([a[(a >= 0) & (b < 0)], b[(b >= 0) & (a < 0)]])
        if lone.size:
            self.block(lone, reason)

    def block(self, atoms: np.ndarray, reason: str) -> None:
        atoms = atoms[atoms >= 0]
        if atoms.size:
            self._blocks.append((atoms, reason))

    def _components(self, extra_a: list[np.ndarray], extra_b: list[np.ndarray]) -> np.ndarray:
        a = np.concatenate(self._ua + extra_a) if (self._ua or extra_a) else np.zeros(0, np.int64)
        b = np.concatenate(self._ub + extra_b) if (self._ub or extra_b) else np.zeros(0, np.int64)
        graph = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(self.n, self.n))
        _, labels = connected_components(graph, directed=False)
        # Represent each component by its smallest atom, so ids stay atoms.
        rep = np.full(labels.max() + 1 if labels.size else 0, self.n, np.int64)
        np.minimum.at(rep, labels, np.arange(self.n))
        return rep[labels]

    def _reason_of(self, comp: np.ndarray, axes: list[np.ndarray]) -> str:
        """' (<reason>)' of the first block that holds one of ``axes``' atoms, or ''."""
        want = np.unique(np.concatenate(axes)) if axes else np.zeros(0, np.int64)
        for atoms, reason in self._blocks:
            if np.isin(comp[atoms], want).any():
                return f' ({reason})'
        return ''

    def resolve(self) -> Resolved:
        """Merge, apply products (ownership), and collect the blocked final atoms."""
        extra_a: list[np.ndarray] = []
        extra_b: list[np.ndarray] = []
        blocked_atoms = (np.concatenate([b for b, _ in self._blocks]) if self._blocks
                         else np.zeros(0, np.int64))
        comp = self._components(extra_a, extra_b)
        owner = np.arange(self.n, dtype=np.int64)
        for _ in range(6):
            is_blocked = np.zeros(self.n, bool)
            is_blocked[comp[blocked_atoms]] = True
            new_a: list[np.ndarray] = []
            new_b: list[np.ndarray] = []
            owner = np.arange(self.n, dtype=np.int64)
            keys: list[np.ndarray] = []
            elems: list[np.ndarray] = []
            for p in self.products:
                axes = [comp[ax] for ax in p.axes]
                e = comp[p.elements]
                # Elements denoting the same tuple of axis atoms (in any order: a channel shuffle
                # transposes the split) are the same channel.
                stacked = np.sort(np.stack(axes, 1), axis=1)
                key = stacked[:, 0].copy()
                for j in range(1, stacked.shape[1]):
                    key = key * self.n + stacked[:, j]
                keys.append(key)
                elems.append(e)
                own = np.full(e.shape, -1, np.int64)
                order = axes if p.prefer == 'outer' else axes[::-1]
                for ax in (order if p.prefer == 'outer' else order[:1]):
                    free = (own < 0) & ~is_blocked[ax]
                    own[free] = ax[free]
                claimed = own >= 0
                # An element claimed by two owners ties them together.
                prev = owner[e[claimed]]
                conflict = (prev != e[claimed]) & (prev != own[claimed])
                if conflict.any():
                    new_a.append(prev[conflict])
                    new_b.append(own[claimed][conflict])
                owner[e[claimed]] = own[claimed]
                unowned = e[~claimed]
                if unowned.size:
                    is_blocked[unowned] = True
                    blocked_atoms = np.concatenate([blocked_atoms, unowned])
                    why = self._reason_of(comp, [ax[~claimed] for ax in axes])
                    self._blocks.append((unowned, f'{p.where}: no axis of the reshape can be '
                                                  f'pruned{why}'))
            if keys:
                key = np.concatenate(keys)
                el = np.concatenate(elems)
                order = np.argsort(key, kind='stable')
                same = key[order][1:] == key[order][:-1]
                if same.any():
                    new_a.append(el[order][1:][same])
                    new_b.append(el[order][:-1][same])
            pending = [(a, b) for a, b in zip(new_a, new_b) if np.any(comp[a] != comp[b])]
            if not pending:
                break
            extra_a += [a for a, _ in pending]
            extra_b += [b for _, b in pending]
            comp = self._components(extra_a, extra_b)
        final = comp.copy()
        for _ in range(8):  # follow ownership chains (heads of a reshape of a reshape)
            nxt = comp[owner[final]]
            if np.array_equal(nxt, final):
                break
            final = nxt
        blocked: dict[int, str] = {}
        if self._blocks:
            # The first block naming each final atom gives its reason (one vectorised pass: an
            # LLM's vocabulary alone is 32000 blocked atoms).
            allf = np.concatenate([final[atoms] for atoms, _ in self._blocks])
            which = np.repeat(np.arange(len(self._blocks)), [a.size for a, _ in self._blocks])
            uniq, first = np.unique(allf, return_index=True)
            reasons = np.array([r for _, r in self._blocks], dtype=object)
            blocked = dict(zip(uniq.tolist(), reasons[which[first]].tolist()))
        notes = []
        for p in self.products:
            if p.prefer != 'outer' or len(p.axes) < 2:
                continue
            inner = final[p.axes[-1][:1]]
            if inner.size and int(inner[0]) in blocked:
                notes.append(f'{p.where}: split {p.sizes}; only whole slices of the outer axis '
                             f'(heads) are pruned; the inner dim (head dim) stays whole because '
                             f'{blocked[int(inner[0])]}')
        return Resolved(final=final, blocked=blocked, notes=notes)
