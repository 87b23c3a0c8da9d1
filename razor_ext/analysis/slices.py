"""Slices of a channel dim at fixed offsets: a fused projection cut into pieces.

A mixin of :class:`~razor_ext.analysis.propagation.Propagator`. Phi-3's attention computes one
``qkv_proj`` and cuts it with ``qkv[..., :q_pos]``, ``qkv[..., q_pos:q_pos + kv]`` and
``qkv[..., q_pos + kv:]``, where ``q_pos = config.num_attention_heads * self.head_dim``. The
offsets are Python integers, so pruning the dim is only right if the code computes the new
offsets from the kept counts. Slices are collected during the trace and judged at its end
(:meth:`SliceRules.finish_slices`), per sliced dim:

* the pieces must tile the dim (no gap, no overlap, step 1), else the dim stays whole;
* equal pieces of a size read from the tensor (``x[..., :n // 2]``, ``x[..., n // 2:]``: rotary
  embeddings' halves) are cut like ``chunk``: the same index leaves every piece;
* otherwise every piece but the last must be ``count x size`` of two integer attributes of the
  module, its parents or the model's ``config`` (``num_attention_heads x head_dim``), the count
  named as one (heads, groups); the count is *bound* to the piece, so pruning sets it to the kept
  size divided by ``size``. The last piece runs to the end, which follows pruning by itself.

Anything else keeps the dim whole, the report naming the op. The post-prune check (and its
fallback) still guards the result: a bound count that the code does not read shows up there.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from razor_ext.analysis.sizes import _is_count


@dataclass
class SlicePiece:
    labels: np.ndarray   # the sliced dim's labels (all pieces of a dim share this array)
    start: int
    stop: int
    where: str
    scope: str


class SliceRules:
    """Collects slices of labelled dims and judges them at the end of the trace."""

    def init_slices(self) -> None:
        self._slices: dict[int, list[SlicePiece]] = {}
        self._slice_labels: dict[int, np.ndarray] = {}

    def record_slice(self, lab: np.ndarray, rng: range, where: str, module: str) -> np.ndarray:
        """Labels of ``lab[rng]`` for a slice that does not cover the whole dim."""
        sliced = lab[rng.start:rng.stop:rng.step] if len(rng) else lab[:0]
        if rng.step != 1 or not len(rng):
            self.table.block(lab, f'op {where} slices a channel dim at fixed offsets')
            return sliced
        self._slice_labels[id(lab)] = lab
        self._slices.setdefault(id(lab), []).append(
            SlicePiece(lab, rng.start, rng.stop, where, self.where_module(module)))
        return sliced

    def finish_slices(self) -> None:
        """Judge every sliced dim (see the module docstring); called once, after the trace."""
        for key, pieces in self._slices.items():
            lab = self._slice_labels[key]
            spans = sorted({(p.start, p.stop) for p in pieces})
            where = pieces[0].where
            n = lab.size
            tiled = len(spans) > 1 and spans[0][0] == 0 and spans[-1][1] == n and all(
                a[1] == b[0] for a, b in zip(spans, spans[1:]))
            if not tiled:
                self.table.block(lab, f'op {where} slices a channel dim at fixed offsets (the '
                                      'slices do not cover it piece by piece)')
                continue
            sizes = [b - a for a, b in spans]
            scope = pieces[0].scope
            if len(set(sizes)) == 1 and self._read_here(scope, n):
                # Halves of a size read from the tensor: they follow the dim if equal.
                self._grouped(lab, len(sizes), sizes[0], None, where)
                continue
            found = [self._head_counts(scope, lab[a:b]) for a, b in spans[:-1]]
            if not all(found):
                bad = spans[[not f for f in found].index(True)]
                self.table.block(lab, f'op {where} slices a channel dim at fixed offsets: piece '
                                      f'{bad[0]}:{bad[1]} is not split into heads whose count '
                                      'is an attribute (the new offsets could not follow '
                                      'pruning)')
                continue
            for (a, b), attrs in zip(spans, found):
                for owner, attr, head_dim in attrs:
                    self.bind_scaled(owner, attr, lab[a:b], f'{where} (slice {a}:{b})', head_dim)

    # ------------------------------------------------------------------ internals
    def _read_here(self, scope: str, n: int) -> bool:
        return any(n in self._reads.get(o, ()) for o in self._owners(scope))

    def _head_counts(self, scope: str, piece: np.ndarray) -> list[tuple[str, str, int]]:
        """``(owner, attribute, head dim)`` of every head count attribute (the module's, its
        parents', the config's) equal to the number of heads the trace saw ``piece`` split into
        (a reshape to ``(heads, head_dim)``); empty when it was not split so."""
        split = None
        for p in self.table.products:
            if p.prefer == 'outer' and len(p.sizes) == 2 and p.elements.size == piece.size \
                    and np.array_equal(p.elements, piece):
                split = p.sizes
                break
        if split is None:
            return []
        heads, head_dim = split
        out = []
        for owner in self._owners(scope):
            for attr in self._int_attrs(owner).get(heads, []):
                # Head counts only: a group count (query heads per KV head) keeps its value.
                if 'head' in attr.lower() and 'group' not in attr.lower() and _is_count(attr):
                    out.append((owner, attr, head_dim))
        return out
