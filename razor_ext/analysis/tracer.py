"""Record every torch function call of one forward, with the module that made it.

Both tracers feed the same recorder: ``'fx'`` runs the ``torch.fx`` graph of the model through it,
``'autograd'`` runs the model's own eager forward (so data-dependent control flow, ``**kwargs`` and
dataclass outputs work; like autograd, it follows the one path actually taken).
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

OpHandler = Callable[[Any, tuple, dict, Any, str], None]


class FunctionRecorder(TorchFunctionMode):
    """Calls ``handler(func, args, kwargs, output, module_name)`` after every torch function.

    Functions called inside a handled function (e.g. the ops inside ``F.batch_norm``) are not
    seen: the mode is off while a function runs, so each call is recorded at the level the model's
    code wrote it.
    """

    def __init__(self, handler: OpHandler, module_stack: list[str], meta: bool = False) -> None:
        super().__init__()
        self.handler = handler
        self.module_stack = module_stack
        self.meta = meta

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.meta:
            # Shapes only: every tensor argument (weights, constants) goes to the meta device,
            # so no arithmetic runs; the handler still sees the original objects.
            margs = _meta_args(args)
            mkwargs = {k: _meta_args(v) for k, v in kwargs.items()} if kwargs else kwargs
            name = getattr(func, '__name__', '')
            if name in _SAME_SHAPE and margs and isinstance(margs[0], Tensor) and (
                    name not in _FLOAT_ONLY or margs[0].is_floating_point()) and \
                    not margs[0].is_complex() and \
                    mkwargs.get('dtype') is None and not any(isinstance(a, torch.dtype)
                                                             for a in margs[1:]):
                # Norms and activations keep the shape; their meta kernels are Python
                # decompositions costing ~10 ms a call, more than the whole rest of the trace.
                inplace = name.endswith('_') or mkwargs.get('inplace') is True or (
                    len(margs) > 1 and margs[-1] is True and name in _INPLACE_ARG)
                out = margs[0] if inplace else _empty(margs[0].shape, margs[0])
            else:
                out = _shape_only(name, margs, mkwargs)
                if out is None:
                    out = func(*margs, **mkwargs)
        else:
            out = func(*args, **kwargs)
        self.handler(func, args, kwargs, out, self.module_stack[-1] if self.module_stack else '')
        return out


_SAME_SHAPE = frozenset({
    'batch_norm', 'layer_norm', 'group_norm', 'rms_norm', 'instance_norm', 'relu', 'relu_',
    'relu6', 'gelu', 'silu', 'hardswish', 'hardsigmoid', 'sigmoid', 'tanh', 'dropout', 'elu',
    'leaky_relu', 'hardtanh', 'mish', 'softplus', 'neg', '__neg__', 'rsqrt', 'sqrt', 'exp',
    'sin', 'cos', 'abs', 'reciprocal', 'square', 'erf', 'softmax', 'log_softmax'})
# Same shape and dtype only for floating inputs (sin of an int tensor is float).
_FLOAT_ONLY = frozenset({'rsqrt', 'sqrt', 'exp', 'sin', 'cos', 'reciprocal', 'erf', 'softmax',
                         'log_softmax', 'gelu', 'silu', 'sigmoid', 'tanh', 'softplus', 'mish'})
_INPLACE_ARG = frozenset({'relu', 'relu6', 'silu', 'hardswish', 'hardsigmoid', 'dropout', 'elu',
                          'leaky_relu', 'hardtanh', 'mish'})


_BINARY = frozenset({'add', 'sub', 'mul', 'div', '__add__', '__radd__', '__sub__', '__rsub__',
                     '__mul__', '__rmul__', '__truediv__', '__rtruediv__', 'pow', '__pow__'})
_BINARY_INPLACE = frozenset({'add_', 'sub_', 'mul_', 'div_', '__iadd__', '__isub__', '__imul__',
                             '__itruediv__'})


def _shape_only(name: str, args: tuple, kwargs: dict) -> Tensor | None:
    """Output of the commonest ops from shape arithmetic alone. Their meta kernels are Python
    decompositions whose first call imports torch._dynamo and the symbolic-shapes machinery
    (~5 s in a fresh process); None means 'run the op's own meta kernel'."""
    try:
        if name in _BINARY or name in _BINARY_INPLACE:
            if kwargs or len(args) != 2 or not isinstance(args[0], Tensor):
                return None
            a, b = args
            if name in _BINARY_INPLACE:
                return a
            if isinstance(b, Tensor):
                shape = _broadcast(tuple(a.shape), tuple(b.shape))
                if shape is None:
                    return None
            elif isinstance(b, (int, float)) and not isinstance(b, bool):
                if name in ('pow', '__pow__') and not (a.is_floating_point() and
                                                      isinstance(b, int)):
                    return None
                shape = a.shape
            else:
                return None
            dtype = torch.result_type(a, b)
            if name in ('div', '__truediv__', '__rtruediv__') and not dtype.is_floating_point:
                dtype = torch.get_default_dtype()
            return torch.empty(shape, dtype=dtype, device='meta')  # C++ factory: no refs import
        if name == 'linear' and not kwargs and len(args) >= 2:
            x, w = args[0], args[1]
            if w.dim() != 2 or x.shape[-1] != w.shape[1]:
                return None  # the op's own kernel raises the shape error
            return _empty(like=x, shape=(*x.shape[:-1], w.shape[0]))
        if name == 'scaled_dot_product_attention':
            return _sdpa_shape(args, kwargs)
        if name in ('cat', 'concat', 'concatenate'):
            return _cat_shape(args, kwargs)
        if name in ('conv1d', 'conv2d', 'conv3d') and not kwargs:
            x, w = args[0], args[1]
            nd = w.dim() - 2
            stride, padding, dilation = (_tup(args[i] if len(args) > i else d, nd)
                                         for i, d in ((3, 1), (4, 0), (5, 1)))
            groups = args[6] if len(args) > 6 else 1
            if padding is None or stride is None or dilation is None or x.dim() != nd + 2 \
                    or not isinstance(groups, int) or x.shape[1] != w.shape[1] * groups:
                return None  # the op's own kernel raises the shape error
            size = [(n + 2 * p - d * (k - 1) - 1) // st + 1 for n, k, st, p, d in
                    zip(x.shape[2:], w.shape[2:], stride, padding, dilation)]
            if min(size, default=1) < 1:
                return None
            return _empty(like=x, shape=(x.shape[0], w.shape[0], *size))
        if name.startswith('adaptive_avg_pool') and len(args) >= 2 and not kwargs:
            x = args[0]
            nd = int(name[-2])
            size = _tup(args[1], nd)
            if size is None:
                return None
            return _empty(like=x, shape=(*x.shape[:-nd], *size))
        if name in ('max_pool2d', 'avg_pool2d', '_max_pool2d', 'max_pool1d', 'avg_pool1d'):
            x = args[0]
            nd = 2 if '2d' in name else 1
            names = ['kernel_size', 'stride', 'padding']
            vals = dict(zip(names, args[1:4]))
            vals.update({k: v for k, v in kwargs.items() if k in names})
            if any(kwargs.get(k) for k in ('ceil_mode', 'return_indices')) or \
                    (kwargs.get('dilation', 1) not in (1, (1, 1), [1, 1])) or len(args) > 4:
                return None
            k = _tup(vals['kernel_size'], nd)
            st = _tup(vals.get('stride') or vals['kernel_size'], nd)
            pad = _tup(vals.get('padding', 0), nd)
            if k is None or st is None or pad is None:
                return None
            size = [(n + 2 * p - kk) // ss + 1 for n, kk, ss, p in zip(x.shape[-nd:], k, st, pad)]
            return _empty(like=x, shape=(*x.shape[:-nd], *size))
        if name in ('mean', 'sum') and isinstance(args[0], Tensor):
            x = args[0]
            dim = kwargs.get('dim', args[1] if len(args) > 1 else None)
            keep = kwargs.get('keepdim', args[2] if len(args) > 2 else False)
            if dim is None or set(kwargs) - {'dim', 'keepdim'} or len(args) > 3:
                return None
            dims = {d % x.dim() for d in ((dim,) if isinstance(dim, int) else dim)}
            shape = [1 if i in dims else n for i, n in enumerate(x.shape) if keep or i not in dims]
            return _empty(like=x, shape=shape)
    except (TypeError, ValueError, RuntimeError, IndexError, KeyError):
        return None
    return None


def _sdpa_shape(args: tuple, kwargs: dict) -> Tensor | None:
    # (..., L, E) x (..., S, E) x (..., S, Ev) -> (..., L, Ev); its meta kernel is a Python
    # decomposition costing ~15 ms a call, a quarter of a Llama trace.
    if len(args) < 3 or not all(isinstance(t, Tensor) for t in args[:3]):
        return None
    q, k, v = args[:3]
    if q.dim() < 2 or k.dim() != q.dim() or v.dim() != q.dim() or q.shape[-1] != k.shape[-1] \
            or k.shape[-2] != v.shape[-2] or q.dtype != k.dtype or q.dtype != v.dtype \
            or set(kwargs) - {'attn_mask', 'dropout_p', 'is_causal', 'scale', 'enable_gqa'}:
        return None
    for a, b in zip(q.shape[:-2], k.shape[:-2]):
        if a != b and not (kwargs.get('enable_gqa') and b and a % b == 0):
            return None
    return _empty((*q.shape[:-1], v.shape[-1]), q)


def _cat_shape(args: tuple, kwargs: dict) -> Tensor | None:
    ts = args[0] if args else kwargs.get('tensors')
    dim = args[1] if len(args) > 1 else kwargs.get('dim', 0)
    if not isinstance(ts, (list, tuple)) or not ts or not isinstance(dim, int) \
            or set(kwargs) - {'tensors', 'dim'} or not all(isinstance(t, Tensor) for t in ts):
        return None
    ts = [t for t in ts if not (t.dim() == 1 and t.numel() == 0)]
    if not ts or len({t.dim() for t in ts}) != 1 or len({t.dtype for t in ts}) != 1:
        return None
    d = dim % ts[0].dim()
    shape = list(ts[0].shape)
    for t in ts[1:]:
        if any(a != b for i, (a, b) in enumerate(zip(shape, t.shape)) if i != d):
            return None
        shape[d] += t.shape[d]
    return _empty(shape, ts[0])


def _broadcast(a: tuple, b: tuple) -> tuple | None:
    # Not torch.broadcast_shapes: it imports sympy through the symbolic-shapes module.
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            return None
        out.append(y if x == 1 else x)
    return tuple(out)


def _empty(shape: Any, like: Tensor) -> Tensor:
    # torch.empty, not empty_like/new_empty: those go through Python refs on meta tensors.
    return torch.empty(tuple(shape), dtype=like.dtype, device='meta')


def _tup(v: Any, n: int) -> tuple | None:
    if isinstance(v, int):
        return (v,) * n
    if isinstance(v, (tuple, list)) and len(v) == n and all(isinstance(x, int) for x in v):
        return tuple(v)
    return None  # 'same' / 'valid' padding: the op's own meta kernel decides


def _meta_args(obj: Any) -> Any:
    """``obj`` with every tensor moved to the meta device (args are flat: faster than pytree)."""
    if isinstance(obj, Tensor):
        return obj if obj.is_meta else obj.to('meta')
    if isinstance(obj, (tuple, list)) and not hasattr(obj, '_fields'):
        if not any(isinstance(o, (Tensor, tuple, list, dict)) for o in obj):
            return obj
        return type(obj)(_meta_args(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _meta_args(v) for k, v in obj.items()}
    return obj


class ModuleStack(list):
    """Names of the running modules, innermost last; ``failed``: the innermost module that
    raised, or None."""

    failed: str | None = None


@contextlib.contextmanager
def module_stack(model: nn.Module, on_output: Callable[[str, Any], None] | None = None
                 ) -> Iterator[list[str]]:
    """Yield a list kept equal to the names of the modules of ``model`` now running (innermost
    last), through forward hooks that are removed on exit; ``on_output(name, output)`` is called
    when a module returns. If the forward raises, ``stack.failed`` names the innermost module
    that raised (the list itself is empty again by then: the hooks unwind with the exception)."""
    names = {id(m): n for n, m in model.named_modules()}
    stack = ModuleStack()
    handles = []

    def pre(module, args):
        name = names.get(id(module))
        if name is not None:
            stack.append(name)

    def post(module, args, out):
        name = names.get(id(module))
        if name is not None and stack:
            stack.pop()
            if out is None and stack.failed is None and sys.exc_info()[0] is not None:
                stack.failed = name  # always_call hooks run while the exception unwinds
                return
            if on_output is not None:
                on_output(name, out)

    for m in model.modules():
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post, always_call=True))
    try:
        yield stack
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def frozen_state(model: nn.Module) -> Iterator[None]:
    """Run the block in eval mode without gradients, then restore every module's train flag and
    every buffer's values (a module that updates its buffers in eval mode is undone too)."""
    modes = [(m, m.training) for m in model.modules()]
    buffers = {id(b): (b, b.detach().clone()) for b in model.buffers() if b is not None}
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, training in modes:
            m.training = training
        with torch.no_grad():
            for b, saved in buffers.values():
                if b.shape == saved.shape and not torch.equal(b, saved):
                    b.copy_(saved)
