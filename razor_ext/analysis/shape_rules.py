"""Channel rules of ops that move, join or cut tensors (permute, view, cat, split, indexing).

A mixin of :class:`~razor_ext.analysis.propagation.Propagator`: each rule reads its inputs' labels
(one per dim: ``None`` or an int array of atoms) through ``self.labels`` and sets its outputs'.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from razor_ext.analysis.atoms import Product

Labels = tuple  # tuple[np.ndarray | None, ...]


def norm_dim(d: int, ndim: int) -> int:
    """``d`` as a non-negative dim of an ``ndim``-dim tensor (``-1`` -> ``ndim - 1``)."""
    return d + ndim if d < 0 else d


class ShapeRules:
    """Rules for ops that rearrange dims or elements without mixing channels."""

    def _permute(self, args, kwargs, out, where, module):
        x = args[0]
        dims = args[1:] if len(args) > 1 else (kwargs['dims'],)
        if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
            dims = dims[0]
        lab = self.labels(x, module)
        self.set(out, [lab[norm_dim(d, x.dim())] for d in dims])

    def _transpose(self, args, kwargs, out, where, module):
        x = args[0]
        lab = list(self.labels(x, module))
        if x.dim() < 2:
            self.set(out, lab)
            return
        if len(args) >= 3:
            a, b = norm_dim(args[1], x.dim()), norm_dim(args[2], x.dim())
        else:
            a, b = x.dim() - 2, x.dim() - 1
        lab[a], lab[b] = lab[b], lab[a]
        self.set(out, lab)

    def _movedim(self, args, kwargs, out, where, module):
        x = args[0]
        src, dst = args[1], args[2]
        src = [src] if isinstance(src, int) else list(src)
        dst = [dst] if isinstance(dst, int) else list(dst)
        order = [d for d in range(x.dim()) if d not in {norm_dim(s, x.dim()) for s in src}]
        for s, t in sorted(zip(src, dst), key=lambda p: norm_dim(p[1], x.dim())):
            order.insert(norm_dim(t, x.dim()), norm_dim(s, x.dim()))
        lab = self.labels(x, module)
        self.set(out, [lab[d] for d in order])

    def _expand(self, args, kwargs, out, where, module):
        x = args[0]
        lab = self.labels(x, module)
        nd = out.dim()
        res = []
        for d in range(nd):
            k = d - (nd - x.dim())
            if k < 0 or x.shape[k] != out.shape[d]:
                res.append(None)
            else:
                res.append(lab[k])
        self.set(out, res)

    def _repeat(self, args, kwargs, out, where, module):
        x = args[0]
        lab = self.labels(x, module)
        nd = out.dim()
        res = []
        for d in range(nd):
            k = d - (nd - x.dim())
            if k < 0 or lab[k] is None:
                res.append(None)
            else:
                res.append(np.tile(lab[k], out.shape[d] // x.shape[k]))
        self.set(out, res)

    def _view(self, args, kwargs, out, where, module):
        x = args[0]
        if not isinstance(out, Tensor) or out.numel() != x.numel():
            return False
        self.set(out, self.reshape_labels(self.labels(x, module), tuple(x.shape),
                                          tuple(out.shape), where))

    def reshape_labels(self, lab: Labels, src: tuple, dst: tuple, where: str) -> list:
        """Labels of a reshape from ``src`` to ``dst``: dims are matched in groups of equal
        product; inside a group, one labelled dim is repeated/tiled over unlabelled ones, a split
        or merge of labelled dims becomes a product of atoms (heads x head dim)."""
        res: list = [None] * len(dst)
        i = j = 0
        while i < len(src) or j < len(dst):
            gi, gj = [i] if i < len(src) else [], [j] if j < len(dst) else []
            pi = src[i] if i < len(src) else 1
            pj = dst[j] if j < len(dst) else 1
            i, j = i + 1, j + 1
            while pi != pj:
                if pi < pj and i < len(src):
                    gi.append(i)
                    pi *= src[i]
                    i += 1
                elif j < len(dst):
                    gj.append(j)
                    pj *= dst[j]
                    j += 1
                else:
                    break
            # size-1 dims carry no channels
            gi_l = [d for d in gi if lab[d] is not None and src[d] > 1]
            gj_big = [d for d in gj if dst[d] > 1]
            if not gi_l:
                continue
            # Flattened labels of the group (row-major), -1 where unlabelled.
            flat = None
            for d in gi:
                if src[d] == 1:
                    continue
                lbl = lab[d] if lab[d] is not None else np.full(src[d], -1, np.int64)
                flat = lbl if flat is None else self._combine(flat, lbl, where)
            if len(gj_big) == 1:
                res[gj_big[0]] = flat
                continue
            if len(gj_big) == 0:
                continue
            if (flat < 0).any():
                self.table.block(flat, f'{where}: reshape splits a partly fixed dim')
                continue
            # Split into several labelled dims: new atoms per axis, elements owned by one axis.
            sizes = tuple(dst[d] for d in gj_big)
            axes_new = [self.table.new(s) for s in sizes]
            grids = np.meshgrid(*[np.arange(s) for s in sizes], indexing='ij')
            axes = [ax[g.reshape(-1)] for ax, g in zip(axes_new, grids)]
            self.table.products.append(Product(flat, axes, 'outer', where, sizes))
            for d, ax in zip(gj_big, axes_new):
                res[d] = ax
        return res

    def _combine(self, outer: np.ndarray, inner: np.ndarray, where: str) -> np.ndarray:
        """Row-major merge of two dims' labels into one."""
        if (outer < 0).all():
            return np.tile(inner, outer.size)
        if (inner < 0).all():
            return np.repeat(outer, inner.size)
        if (outer < 0).any() or (inner < 0).any():
            self.table.block(outer, f'{where}: reshape merges partly fixed dims')
            self.table.block(inner, f'{where}: reshape merges partly fixed dims')
            return np.full(outer.size * inner.size, -1, np.int64)
        elements = self.table.new(outer.size * inner.size)
        axes = [np.repeat(outer, inner.size), np.tile(inner, outer.size)]
        self.table.products.append(Product(elements, axes, 'outer', where, (outer.size, inner.size)))
        return elements

    def _cat(self, args, kwargs, out, where, module):
        ts = list(args[0])
        dim = kwargs.get('dim', args[1] if len(args) > 1 else 0)
        dim = norm_dim(dim, out.dim())
        ts = [t for t in ts if not (t.dim() == 1 and t.numel() == 0)]
        res = []
        for d in range(out.dim()):
            if d == dim:
                parts = [self.labels(t, module)[d] for t in ts]
                if all(p is None for p in parts):
                    res.append(None)
                else:
                    res.append(np.concatenate([p if p is not None else np.full(t.shape[d], -1, np.int64)
                                               for p, t in zip(parts, ts)]))
                continue
            lab = None
            fixed = False
            for t in ts:
                tl = self.labels(t, module)[d]
                if tl is None:
                    fixed = True
                else:
                    lab = tl if lab is None else self.unify(lab, tl, f'op {where}')
            if fixed and lab is not None:
                self.table.block(lab, f'op {where} joins channels with a fixed-size dim')
                lab = None
            res.append(lab)
        self.set(out, res)

    def _stack(self, args, kwargs, out, where, module):
        ts = list(args[0])
        dim = norm_dim(kwargs.get('dim', args[1] if len(args) > 1 else 0), out.dim())
        res = []
        for d in range(ts[0].dim()):
            lab = None
            for t in ts:
                tl = self.labels(t, module)[d]
                lab = tl if lab is None else self.unify(lab, tl, f'op {where}')
            res.append(lab)
        res.insert(dim, None)
        self.set(out, res)

    def _split(self, args, kwargs, out, where, module):
        x = args[0]
        outs = [o for o in out]
        lab = self.labels(x, module)
        name = where.split(' ')[0]
        dim = kwargs.get('dim', args[2] if len(args) > 2 else 0)
        if name == 'unbind':
            dim = kwargs.get('dim', args[1] if len(args) > 1 else 0)
        dim = norm_dim(dim, x.dim())
        if name == 'unbind':
            if lab[dim] is not None:
                self.table.block(lab[dim], f'op {where} picks single channels')
            for o in outs:
                self.set(o, [lab[d] for d in range(x.dim()) if d != dim])
            return
        sizes = [o.shape[dim] for o in outs]
        if lab[dim] is not None and len(outs) > 1:
            if len(set(sizes)) == 1 and name in ('chunk', 'split', 'tensor_split') \
                    and isinstance(args[1] if len(args) > 1 else kwargs.get('chunks', 0), int):
                # Equal pieces whose count is fixed: remove the same index from every piece.
                self._grouped(lab[dim], len(outs), sizes[0], None, where)
            else:
                self.table.block(lab[dim], f'op {where} splits channels at fixed sizes')
        start = 0
        for o in outs:
            size = o.shape[dim]
            res = list(lab)
            if lab[dim] is not None:
                res[dim] = lab[dim][start:start + size]
            start += size
            self.set(o, res)

    def _getitem(self, args, kwargs, out, where, module):
        x, idx = args[0], args[1]
        if not isinstance(out, Tensor):
            return False
        if not isinstance(idx, tuple):
            idx = (idx,)
        lab = self.labels(x, module)
        n_real = sum(1 for i in idx if i is not None and i is not Ellipsis)
        res = []
        d = 0
        for i in idx:
            if i is Ellipsis:
                skip = x.dim() - n_real
                res += list(lab[d:d + skip])
                d += skip
            elif i is None:
                res.append(None)
            elif isinstance(i, bool):
                return False
            elif isinstance(i, int):
                if lab[d] is not None:
                    self.table.block(lab[d], f'op {where} picks a single channel')
                d += 1
            elif isinstance(i, slice):
                if lab[d] is not None:
                    r = range(x.shape[d])[i]
                    if len(r) != x.shape[d]:
                        # At fixed offsets: judged with the other slices of the dim once the
                        # trace ends (see razor_ext.analysis.slices).
                        sliced = self.record_slice(lab[d], r, where, module)
                    else:
                        sliced = lab[d][r.start:r.stop:r.step]
                    res.append(sliced)
                else:
                    res.append(None)
                d += 1
            elif isinstance(i, Tensor):
                if lab[d] is not None:
                    self.table.block(lab[d], f'op {where} indexes a channel dim with a tensor')
                for _ in range(max(i.dim(), 1) if i.dtype != torch.bool else 1):
                    res.append(None)
                d += 1 if i.dtype != torch.bool else i.dim()
            else:
                return False
        res += list(lab[d:])
        if len(res) != out.dim():
            return False
        self.set(out, res)
