"""Propagate channel atoms through the ops of one recorded forward.

Each tensor seen in the forward gets one label per dim: ``None`` (not a channel dim: batch,
tokens, space) or an int array of atoms (``-1`` for a fixed element). Parameters and buffers get
fresh atoms the first time they are used, registered as positions to gather when pruning. Each
rule (the elementwise ones here, the others in shape_rules and layer_rules) states how an op
couples its inputs' and outputs' labels; an op with labelled inputs
and no rule blocks those channels, so what is not understood is never pruned.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

from razor_ext.analysis.atoms import AtomTable, Position
from razor_ext.analysis.layer_rules import LayerRules
from razor_ext.analysis.shape_rules import Labels, ShapeRules, norm_dim
from razor_ext.analysis.sizes import SizeRules
from razor_ext.analysis.slices import SliceRules

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


class Propagator(ShapeRules, LayerRules, SizeRules, SliceRules):
    """Holds the labels of the tensors of one forward and applies the op rules to them."""

    def __init__(self, names: dict[int, str], buffers: set[int], table: AtomTable,
                 model: Any = None) -> None:
        self.names = names            # id(param or buffer) -> state-dict name
        self.buffers = buffers        # ids of buffers (fixed tables unless a known op uses them)
        self.table = table
        self._labels: dict[int, tuple[Tensor, Labels]] = {}
        self._param_dims: dict[tuple[int, int], np.ndarray] = {}
        self.ops_seen = 0
        self.init_sizes(model)  # model None: size attributes are not looked for
        self.init_slices()

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
            if name in ('size', '__get__') and self.model is not None:
                self.record_read(name, args, out, module)
            return
        ins = _tensors(args) + _tensors(kwargs)
        if not any(self.has_labels(t) for t in ins):
            return
        self.ops_seen += 1
        where = f"{name} in {self.where_module(module) or 'the top-level forward'}"
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
                    self.bind_sizes(name, args, kwargs, out, where, module)
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
            dims = {norm_dim(d, x.dim()) for d in dim}
        else:
            dims = {norm_dim(int(dim), x.dim())}
        for o in outs:
            if o.dim() == x.dim():
                self.set(o, [None if d in dims else lab[d] for d in range(x.dim())])
            else:
                self.set(o, [lab[d] for d in range(x.dim()) if d not in dims])

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
    'mm': Propagator._matmul, 'addmm': Propagator._addmm, 'einsum': Propagator._einsum,
    'linear': Propagator._linear,
    'conv1d': Propagator._conv,
    'conv2d': Propagator._conv, 'conv3d': Propagator._conv,
    'conv_transpose1d': Propagator._conv_transpose, 'conv_transpose2d': Propagator._conv_transpose,
    'conv_transpose3d': Propagator._conv_transpose, 'batch_norm': Propagator._batch_norm,
    'instance_norm': Propagator._batch_norm, 'layer_norm': Propagator._layer_norm,
    'rms_norm': Propagator._rms_norm, 'group_norm': Propagator._group_norm,
    'embedding': Propagator._embedding, 'scaled_dot_product_attention': Propagator._sdpa,
    'multi_head_attention_forward': Propagator._mha,
    'pruned_multi_head_attention_forward': Propagator._pruned_mha,
}
