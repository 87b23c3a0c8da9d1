"""Propagate channel atoms through the ops of one recorded forward.

Each tensor seen in the forward gets one label per dim: ``None`` (not a channel dim: batch,
tokens, space) or an int array of atoms (``-1`` for a fixed element). Parameters and buffers get
fresh atoms the first time they are used, registered as positions to gather when pruning. Each
rule below states how an op couples its inputs' and outputs' labels; an op with labelled inputs
and no rule blocks those channels, so what is not understood is never pruned.
"""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from torch import Tensor

from razor_ext.models.task_modules.channel_analysis.atoms import AtomTable, Position, Product

Labels = tuple  # tuple[np.ndarray | None, ...]

_UNARY = {
    'relu', 'relu_', 'relu6', 'gelu', 'silu', 'silu_', 'sigmoid', 'sigmoid_', 'tanh', 'tanh_',
    'hardswish', 'hardswish_', 'hardsigmoid', 'hardtanh', 'hardtanh_', 'leaky_relu', 'leaky_relu_',
    'elu', 'selu', 'softplus', 'mish', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'sin', 'cos', 'neg',
    '__neg__', 'contiguous', 'clone', 'detach', 'float', 'half', 'bfloat16', 'double', 'to', 'type',
    'type_as', 'dropout', 'dropout1d', 'dropout2d', 'dropout3d', 'alpha_dropout', 'softmax',
    'log_softmax', '_softmax', 'clamp', 'clamp_', 'clip', 'erf', 'square', 'reciprocal', 'sign',
    'identity', 'cpu', 'cuda', 'requires_grad_', 'logsigmoid', 'gelu_', 'round', 'floor', 'ceil',
    'nan_to_num', 'tril', 'triu', 'masked_fill', 'masked_fill_', 'pow', '__pow__', 'fill_',
}
_BINARY = {
    'add', 'add_', 'sub', 'sub_', 'mul', 'mul_', 'div', 'div_', 'true_divide', 'rsub', '__add__',
    '__radd__', '__iadd__', '__sub__', '__rsub__', '__isub__', '__mul__', '__rmul__', '__imul__',
    '__truediv__', '__rtruediv__', '__itruediv__', '__rpow__', 'where', 'maximum', 'minimum',
    'addcmul', 'lerp', '__and__', '__or__', 'eq', 'ne', 'lt', 'gt', 'le', 'ge', '__eq__', '__lt__',
    '__gt__', '__le__', '__ge__', '__ne__', 'floor_divide', '__floordiv__', 'fmod', 'remainder',
}
_SAME_CHANNELS = {  # spatial ops: a dim that keeps its size keeps its channels
    'max_pool1d', 'max_pool2d', 'max_pool3d', 'avg_pool1d', 'avg_pool2d', 'avg_pool3d',
    'adaptive_avg_pool1d', 'adaptive_avg_pool2d', 'adaptive_avg_pool3d', 'adaptive_max_pool1d',
    'adaptive_max_pool2d', 'adaptive_max_pool3d', 'interpolate', 'upsample', 'upsample_nearest2d',
    'upsample_bilinear2d', 'pad', 'max_pool2d_with_indices', 'roll', 'pixel_shuffle',
    'boolean_dispatch', '_max_pool2d', 'lp_pool2d', 'local_response_norm',
}
_VIEWS = {'view', 'reshape', 'flatten', 'unflatten', 'squeeze', 'squeeze_', 'unsqueeze',
          'unsqueeze_', 'view_as', 'reshape_as', 'ravel'}
_REDUCE = {'mean', 'sum', 'amax', 'amin', 'max', 'min', 'std', 'var', 'norm', 'logsumexp', 'prod',
           'argmax', 'argmin', 'all', 'any'}
_IGNORED = {'__get__', 'size', 'dim', 'numel', '__len__', 'is_floating_point', 'is_contiguous',
            'item', 'tolist', '__bool__', '__format__', '__repr__', 'data_ptr', 'element_size',
            'stride', 'get_device', '__index__', '__int__', '__float__', 'storage_offset',
            'is_complex', '__hash__', 'nelement', 'has_names', '__iter__', 'requires_grad_',
            '__setstate__', '_is_view', 'untyped_storage', 'numpy', '__array__', 'equal',
            'allclose', 'isfinite', 'isnan', 'isinf', 'all', 'any', 'register_hook'}


def _tensors(obj: Any) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def _dim(d: int, ndim: int) -> int:
    return d + ndim if d < 0 else d


class Propagator:
    """Holds the labels of the tensors of one forward and applies the op rules to them."""

    def __init__(self, names: dict[int, str], buffers: set[int], table: AtomTable) -> None:
        self.names = names            # id(param or buffer) -> state-dict name
        self.buffers = buffers        # ids of buffers (fixed tables unless a known op uses them)
        self.table = table
        self._labels: dict[int, tuple[Tensor, Labels]] = {}
        self._param_dims: dict[tuple[int, int], np.ndarray] = {}
        self.ops_seen = 0

    # ------------------------------------------------------------------ labels
    def state_atoms(self, t: Tensor, dim: int, role: str, module: str) -> np.ndarray:
        """Atoms of dim ``dim`` of a parameter/buffer, created (and registered) on first use."""
        key = (id(t), dim)
        atoms = self._param_dims.get(key)
        if atoms is None:
            atoms = self.table.new(t.shape[dim])
            self._param_dims[key] = atoms
            self.table.positions.append(Position(self.names[id(t)], dim, atoms, role, module))
        return atoms

    def labels(self, t: Tensor, module: str = '') -> Labels:
        entry = self._labels.get(id(t))
        if entry is not None and entry[0] is t:
            return entry[1]
        if id(t) in self.names:
            out = []
            for d, size in enumerate(t.shape):
                if size <= 1:
                    out.append(None)
                    continue
                atoms = self.state_atoms(t, d, 'param', module)
                if id(t) in self.buffers:
                    self.table.block(atoms, f"buffer '{self.names[id(t)]}' is a fixed-size table "
                                            f'used in arithmetic in {module or "the model"}')
                out.append(atoms)
            return tuple(out)
        return (None,) * t.dim()

    def set(self, t: Tensor, labels) -> None:
        labels = tuple(labels)
        assert len(labels) == t.dim(), (labels, t.shape)
        self._labels[id(t)] = (t, labels)

    def has_labels(self, t: Tensor) -> bool:
        if id(t) in self.names:
            return True
        entry = self._labels.get(id(t))
        return entry is not None and entry[0] is t and any(x is not None for x in entry[1])

    def block_tensor(self, t: Tensor, reason: str) -> None:
        for lab in self.labels(t):
            if lab is not None:
                self.table.block(lab, reason)

    def unify(self, a, b, reason: str):
        """Unify two labels of one dim (either may be None: a non-channel dim); returns one."""
        if a is None and b is None:
            return None
        if a is None or b is None:
            lab = a if b is None else b
            self.table.block(lab, f'{reason}: coupled to a dim that is no layer\'s channel (the '
                                  'model input, a constant, or a data dim)')
            return None
        if a is b:
            return a
        if a.shape != b.shape:
            self.table.block(a, reason)
            self.table.block(b, reason)
            return None
        self.table.unify(a, b, reason)
        return a

    # ------------------------------------------------------------------ dispatch
    def handle(self, func, args: tuple, kwargs: dict, out: Any, module: str) -> None:
        name = getattr(func, '__name__', '') or ''
        if name in _IGNORED:
            return
        ins = _tensors(args) + _tensors(kwargs)
        if not any(self.has_labels(t) for t in ins):
            return
        self.ops_seen += 1
        where = f"{name} in {module or 'the top-level forward'}"
        rule = _RULES.get(name)
        if rule is None:
            if name in _UNARY or name in _BINARY:
                rule = Propagator._elementwise
            elif name in _SAME_CHANNELS:
                rule = Propagator._same_channels
            elif name in _VIEWS:
                rule = Propagator._view
            elif name in _REDUCE:
                rule = Propagator._reduce
        if rule is not None:
            try:
                if rule(self, args, kwargs, out, where, module) is not False:
                    return
            except (IndexError, ValueError, TypeError, AssertionError, AttributeError) as exc:
                where = f'{where} ({type(exc).__name__}: {exc})'
        for t in ins:
            self.block_tensor(t, f'op {where} is not understood by the channel analysis')
        # Outputs stay unlabelled (non-channel), which blocks whatever they meet later.

    # ------------------------------------------------------------------ rules
    def _elementwise(self, args, kwargs, out, where, module):
        if not isinstance(out, Tensor):
            return False
        ins = [t for t in _tensors(args) + _tensors(kwargs)]
        nd = out.dim()
        res = []
        for d in range(nd):
            lab = None
            fixed = False
            for t in ins:
                k = d - (nd - t.dim())
                if k < 0 or t.shape[k] == 1 and out.shape[d] != 1:
                    continue
                tl = self.labels(t, module)[k]
                if tl is None:
                    fixed = True
                    continue
                lab = tl if lab is None else self.unify(lab, tl, f'op {where}')
            if fixed and lab is not None:
                self.table.block(lab, f'op {where} combines these channels with a fixed-size dim')
            res.append(lab)
        self.set(out, res)

    def _same_channels(self, args, kwargs, out, where, module):
        x = args[0]
        outs = out if isinstance(out, tuple) else (out,)
        lab = self.labels(x, module)
        for o in outs:
            if not isinstance(o, Tensor) or o.dim() != x.dim():
                return False
            res = []
            for d in range(o.dim()):
                if lab[d] is not None and o.shape[d] != x.shape[d]:
                    self.table.block(lab[d], f'op {where} changes the size of a channel dim')
                    res.append(None)
                else:
                    res.append(lab[d] if o.shape[d] == x.shape[d] else None)
            self.set(o, res)

    def _reduce(self, args, kwargs, out, where, module):
        x = args[0]
        outs = tuple(o for o in (out if isinstance(out, tuple) else (out,)) if isinstance(o, Tensor))
        lab = self.labels(x, module)
        dim = kwargs.get('dim', args[1] if len(args) > 1 and not isinstance(args[1], Tensor) else None)
        if dim is None:
            dims = set(range(x.dim()))
        elif isinstance(dim, (list, tuple)):
            dims = {_dim(d, x.dim()) for d in dim}
        else:
            dims = {_dim(int(dim), x.dim())}
        for o in outs:
            if o.dim() == x.dim():
                self.set(o, [None if d in dims else lab[d] for d in range(x.dim())])
            else:
                self.set(o, [lab[d] for d in range(x.dim()) if d not in dims])

    def _permute(self, args, kwargs, out, where, module):
        x = args[0]
        dims = args[1:] if len(args) > 1 else (kwargs['dims'],)
        if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
            dims = dims[0]
        lab = self.labels(x, module)
        self.set(out, [lab[_dim(d, x.dim())] for d in dims])

    def _transpose(self, args, kwargs, out, where, module):
        x = args[0]
        lab = list(self.labels(x, module))
        if x.dim() < 2:
            self.set(out, lab)
            return
        if len(args) >= 3:
            a, b = _dim(args[1], x.dim()), _dim(args[2], x.dim())
        else:
            a, b = x.dim() - 2, x.dim() - 1
        lab[a], lab[b] = lab[b], lab[a]
        self.set(out, lab)

    def _movedim(self, args, kwargs, out, where, module):
        x = args[0]
        src, dst = args[1], args[2]
        src = [src] if isinstance(src, int) else list(src)
        dst = [dst] if isinstance(dst, int) else list(dst)
        order = [d for d in range(x.dim()) if d not in {_dim(s, x.dim()) for s in src}]
        for s, t in sorted(zip(src, dst), key=lambda p: _dim(p[1], x.dim())):
            order.insert(_dim(t, x.dim()), _dim(s, x.dim()))
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
        dim = _dim(dim, out.dim())
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
        dim = _dim(kwargs.get('dim', args[1] if len(args) > 1 else 0), out.dim())
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
        dim = _dim(dim, x.dim())
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
                    sliced = lab[d][r.start:r.stop:r.step] if len(r) else lab[d][:0]
                    if len(sliced) != x.shape[d]:
                        # A slice at fixed offsets (rotate_half's halves) is fine only if the
                        # sliced channels stay whole: the offsets would move otherwise.
                        self.table.block(lab[d], f'op {where} slices a channel dim at fixed offsets')
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

    def _matmul(self, args, kwargs, out, where, module):
        a, b = args[0], args[1]
        if a.dim() < 2 or b.dim() < 2:
            return False
        la, lb = self.labels(a, module), self.labels(b, module)
        self.unify(la[-1], lb[-2], f'op {where} (contracted dim)')
        nd = out.dim()
        res = []
        for d in range(nd - 2):
            lab = None
            for t, tl in ((a, la), (b, lb)):
                k = d - (nd - t.dim())
                if k < 0 or t.shape[k] == 1:
                    continue
                lab = tl[k] if lab is None else self.unify(lab, tl[k], f'op {where} (batch dim)')
            res.append(lab)
        res += [la[-2], lb[-1]]
        self.set(out, res)

    def _linear(self, args, kwargs, out, where, module):
        x, w = args[0], args[1] if len(args) > 1 else kwargs['weight']
        b = args[2] if len(args) > 2 else kwargs.get('bias')
        if id(w) not in self.names:
            return self._matmul((x, w.t()), {}, out, where, module)
        lx = self.labels(x, module)
        self.unify(lx[-1], self.state_atoms(w, 1, 'in', module), f'op {where}')
        o = self.state_atoms(w, 0, 'out', module)
        if b is not None and id(b) in self.names:
            self.unify(o, self.state_atoms(b, 0, 'out', module), f'op {where}')
        self.set(out, list(lx[:-1]) + [o])

    def _conv(self, args, kwargs, out, where, module, transposed=False):
        x, w = args[0], args[1]
        b = args[2] if len(args) > 2 else kwargs.get('bias')
        pos = {'conv1d': 6, 'conv2d': 6, 'conv3d': 6}
        groups = kwargs.get('groups', args[pos.get(where.split(' ')[0], 7)]
                            if len(args) > pos.get(where.split(' ')[0], 7) else 1)
        if transposed:
            groups = kwargs.get('groups', args[6] if len(args) > 6 else 1)
        if id(w) not in self.names:
            return False
        lx = self.labels(x, module)
        cin = x.shape[1]
        odim, idim = (1, 0) if transposed else (0, 1)
        lab_out = self.state_atoms(w, odim, 'out', module) if w.shape[odim] > 1 or transposed \
            else None
        if groups == 1:
            self.unify(lx[1], self.state_atoms(w, idim, 'in', module), f'op {where}')
        elif not transposed and groups == cin and w.shape[0] == cin:
            # Depthwise: output channel c is input channel c.
            self.unify(lx[1], self.state_atoms(w, 0, 'out', module), f'op {where}')
        elif not transposed:
            # Grouped: remove the same in-group index from every group, so groups stay equal.
            in_per = w.shape[1]
            out_per = w.shape[0] // groups
            self._grouped(lx[1], groups, in_per, self.state_atoms(w, 1, 'in', module), where)
            self._grouped(self.state_atoms(w, 0, 'out', module), groups, out_per, None, where)
        else:
            self.block_tensor(x, f'op {where}: grouped transposed conv is not pruned')
            self.table.block(self.state_atoms(w, odim, 'out', module), f'op {where}: grouped '
                                                                        'transposed conv')
        if b is not None and id(b) in self.names:
            self.unify(lab_out, self.state_atoms(b, 0, 'out', module), f'op {where}')
        self.set(out, [lx[0], lab_out] + [None] * (out.dim() - 2))

    def _grouped(self, lab, groups: int, per: int, weight_atoms, where: str) -> None:
        if lab is None:
            if weight_atoms is not None:
                self.table.block(weight_atoms, f'op {where}: input channels are fixed')
            return
        if (lab < 0).any():
            self.table.block(lab, f'op {where}: grouped conv on partly fixed channels')
            return
        g_atoms = self.table.new(groups)
        inner = weight_atoms if weight_atoms is not None else self.table.new(per)
        axes = [np.repeat(g_atoms, per), np.tile(inner, groups)]
        self.table.products.append(Product(lab, axes, 'inner', where, (groups, per)))

    def _conv_transpose(self, args, kwargs, out, where, module):
        return self._conv(args, kwargs, out, where, module, transposed=True)

    def _batch_norm(self, args, kwargs, out, where, module):
        x = args[0]
        lx = self.labels(x, module)
        names = ['input', 'running_mean', 'running_var', 'weight', 'bias']
        vals = dict(zip(names, args))
        vals.update({k: v for k, v in kwargs.items() if k in names})
        lab = lx[1]
        for k in names[1:]:
            t = vals.get(k)
            if isinstance(t, Tensor) and id(t) in self.names:
                lab = self.unify(lab, self.state_atoms(t, 0, 'norm', module), f'op {where}')
        self.set(out, [lx[0], lab] + list(lx[2:]))

    def _layer_norm(self, args, kwargs, out, where, module):
        x = args[0]
        shape = args[1] if len(args) > 1 else kwargs['normalized_shape']
        w = args[2] if len(args) > 2 else kwargs.get('weight')
        b = args[3] if len(args) > 3 else kwargs.get('bias')
        lx = list(self.labels(x, module))
        k = len(shape)
        if w is None or id(w) not in self.names:
            for lab in lx[-k:]:
                if lab is not None:
                    self.table.block(lab, f'op {where}: a norm without weight keeps its shape')
            self.set(out, lx)
            return
        for j in range(k):
            d = x.dim() - k + j
            lx[d] = self.unify(lx[d], self.state_atoms(w, j, 'norm', module), f'op {where}')
            if b is not None and id(b) in self.names:
                lx[d] = self.unify(lx[d], self.state_atoms(b, j, 'norm', module), f'op {where}')
        self.set(out, lx)

    def _rms_norm(self, args, kwargs, out, where, module):
        x = args[0]
        shape = args[1] if len(args) > 1 else kwargs['normalized_shape']
        w = args[2] if len(args) > 2 else kwargs.get('weight')
        return self._layer_norm((x, shape, w, None), {}, out, where, module)

    def _group_norm(self, args, kwargs, out, where, module):
        x = args[0]
        groups = args[1] if len(args) > 1 else kwargs['num_groups']
        w = args[2] if len(args) > 2 else kwargs.get('weight')
        b = args[3] if len(args) > 3 else kwargs.get('bias')
        lx = list(self.labels(x, module))
        lab = lx[1]
        for t in (w, b):
            if t is not None and id(t) in self.names:
                lab = self.unify(lab, self.state_atoms(t, 0, 'norm', module), f'op {where}')
        if lab is not None and groups > 1:
            self._grouped(lab, groups, x.shape[1] // groups, None, where)
        lx[1] = lab
        self.set(out, lx)

    def _embedding(self, args, kwargs, out, where, module):
        idx, w = args[0], args[1]
        if id(w) not in self.names:
            return False
        self.set(out, [None] * idx.dim() + [self.state_atoms(w, 1, 'out', module)])

    def _sdpa(self, args, kwargs, out, where, module):
        q, k, v = args[:3]
        lq, lk, lv = self.labels(q, module), self.labels(k, module), self.labels(v, module)
        hd = self.unify(lq[-1], lk[-1], f'op {where} (head dim)')
        scale = kwargs.get('scale', args[6] if len(args) > 6 else None)
        if scale is None and hd is not None:
            self.table.block(hd, f'{where}: the head dim sets the softmax scale')
        nd = q.dim()
        res = list(lq[:-1]) + [lv[-1]]
        for d in range(nd - 2):
            h = lq[d]
            for t, lt in ((k, lk), (v, lv)):
                if lt[d] is None and h is None:
                    continue
                if t.shape[d] != q.shape[d] and lt[d] is not None:
                    # grouped-query attention (enable_gqa): query head h reads kv head h // G
                    g = q.shape[d] // t.shape[d]
                    h = self.unify(h, np.repeat(lt[d], g), f'op {where} (heads)')
                else:
                    h = self.unify(h, lt[d], f'op {where} (heads)')
            res[d] = h
        self.set(out, res)

    def _mha(self, args, kwargs, out, where, module):
        a = dict(zip(_MHA_ARGS, args), **kwargs)
        if a.get('static_k') is not None or a.get('static_v') is not None:
            return False
        heads = a['num_heads']
        # torch derives head_dim from the width it checks; the pruned form passes it
        return self._attention(a, heads, a['embed_dim_to_check'] // heads, out, where, module)

    def _pruned_mha(self, args, kwargs, out, where, module):
        a = dict(zip(_PRUNED_MHA_ARGS, args), **kwargs)
        return self._attention(a, a['num_heads'], a['head_dim'], out, where, module)

    def _attention(self, a: dict, heads: int, head_dim: int, out, where, module):
        """Multi-head attention with its projections inside one call: whole heads are pruned
        (q, k and v rows of a head and its out_proj columns together); every head keeps
        ``head_dim`` (the softmax scale depends on it); query, key and value widths are the
        projections' input channels, the output width out_proj's output channels."""
        weights = ('in_proj_weight', 'in_proj_bias', 'bias_k', 'bias_v', 'out_proj_weight',
                   'out_proj_bias', 'q_proj_weight', 'k_proj_weight', 'v_proj_weight')
        if a.get('out_proj_weight') is None or any(
                a.get(n) is not None and id(a[n]) not in self.names for n in weights):
            return False  # weights computed on the fly (e.g. masked): not understood
        inner = heads * head_dim
        q, k, v = a['query'], a['key'], a['value']
        if a.get('q_proj_weight') is not None:
            rows = []
            for x, n in ((q, 'q_proj_weight'), (k, 'k_proj_weight'), (v, 'v_proj_weight')):
                rows.append(self.state_atoms(a[n], 0, 'out', module))
                self.unify(self.labels(x, module)[-1], self.state_atoms(a[n], 1, 'in', module),
                           f'op {where}')
        else:
            w = a['in_proj_weight']
            packed = self.state_atoms(w, 0, 'out', module)
            rows = [packed[:inner], packed[inner:2 * inner], packed[2 * inner:]]
            cols = self.state_atoms(w, 1, 'in', module)
            for x in (q, k, v):
                self.unify(self.labels(x, module)[-1], cols, f'op {where}')
        if a.get('in_proj_bias') is not None:
            b = self.state_atoms(a['in_proj_bias'], 0, 'out', module)
            for j in range(3):
                self.unify(rows[j], b[j * inner:(j + 1) * inner], f'op {where}')
        for j, n in ((1, 'bias_k'), (2, 'bias_v')):
            t = a.get(n)
            if t is not None:
                self.unify(rows[j], self.state_atoms(t, t.dim() - 1, 'param', module), f'op {where}')
        head_atoms = self.table.new(heads)
        qk_dim, v_dim = self.table.new(head_dim), self.table.new(head_dim)
        self.table.block(np.concatenate([qk_dim, v_dim]),
                         f'{where}: every head keeps head_dim (it sets the softmax scale)')
        # q, k and v rows as one (head, dim) product: q and k rows of a head and dim are one
        # channel (their dot product), v rows of the head go with them.
        axes = [np.tile(np.repeat(head_atoms, head_dim), 3),
                np.concatenate([np.tile(d, heads) for d in (qk_dim, qk_dim, v_dim)])]
        self.table.products.append(Product(np.concatenate(rows), axes, 'outer', where,
                                           (heads, head_dim)))
        w_out = a['out_proj_weight']
        self.unify(rows[2], self.state_atoms(w_out, 1, 'in', module), f'op {where}')
        o = self.state_atoms(w_out, 0, 'out', module)
        if a.get('out_proj_bias') is not None:
            self.unify(o, self.state_atoms(a['out_proj_bias'], 0, 'out', module), f'op {where}')
        for x in (q, k, v):
            for lab in self.labels(x, module)[:-1]:
                if lab is not None:
                    self.table.block(lab, f'{where}: attention mixes the tokens of this dim')
        attn_out, attn_weights = out
        self.set(attn_out, [None] * (attn_out.dim() - 1) + [o])
        if isinstance(attn_weights, Tensor):
            per_head = a.get('need_weights', True) and not a.get('average_attn_weights', True)
            lab = [None] * attn_weights.dim()
            if per_head:
                lab[-3] = head_atoms
            self.set(attn_weights, lab)


_MHA_ARGS = tuple(inspect.signature(torch.nn.functional.multi_head_attention_forward).parameters)
_PRUNED_MHA_ARGS = ('query', 'key', 'value', 'num_heads', 'head_dim', 'in_proj_weight',
                    'in_proj_bias', 'bias_k', 'bias_v', 'add_zero_attn', 'dropout_p',
                    'out_proj_weight', 'out_proj_bias', 'training', 'key_padding_mask',
                    'need_weights', 'attn_mask', 'q_proj_weight', 'k_proj_weight',
                    'v_proj_weight', 'average_attn_weights')


_RULES = {
    'permute': Propagator._permute, 'transpose': Propagator._transpose,
    'swapaxes': Propagator._transpose, 't': Propagator._transpose,
    'transpose_': Propagator._transpose, 'movedim': Propagator._movedim,
    'moveaxis': Propagator._movedim, 'expand': Propagator._expand,
    'expand_as': Propagator._expand, 'broadcast_to': Propagator._expand,
    'repeat': Propagator._repeat, 'cat': Propagator._cat, 'concat': Propagator._cat,
    'concatenate': Propagator._cat, 'stack': Propagator._stack, 'split': Propagator._split,
    'chunk': Propagator._split, 'tensor_split': Propagator._split, 'unbind': Propagator._split,
    'split_with_sizes': Propagator._split, '__getitem__': Propagator._getitem,
    'matmul': Propagator._matmul, '__matmul__': Propagator._matmul, 'bmm': Propagator._matmul,
    'mm': Propagator._matmul, 'linear': Propagator._linear, 'conv1d': Propagator._conv,
    'conv2d': Propagator._conv, 'conv3d': Propagator._conv,
    'conv_transpose1d': Propagator._conv_transpose, 'conv_transpose2d': Propagator._conv_transpose,
    'conv_transpose3d': Propagator._conv_transpose, 'batch_norm': Propagator._batch_norm,
    'instance_norm': Propagator._batch_norm, 'layer_norm': Propagator._layer_norm,
    'rms_norm': Propagator._rms_norm, 'group_norm': Propagator._group_norm,
    'embedding': Propagator._embedding, 'scaled_dot_product_attention': Propagator._sdpa,
    'multi_head_attention_forward': Propagator._mha,
    'pruned_multi_head_attention_forward': Propagator._pruned_mha,
}
