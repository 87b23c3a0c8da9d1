"""Record every torch function call of one forward, with the module that made it.

Both tracers feed the same recorder: ``'fx'`` runs the ``torch.fx`` graph of the model through it,
``'autograd'`` runs the model's own eager forward (so data-dependent control flow, ``**kwargs`` and
dataclass outputs work; like autograd, it follows the one path actually taken).
"""
from __future__ import annotations

import contextlib
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
            if name in _SAME_SHAPE and margs and isinstance(margs[0], Tensor):
                # Norms and activations keep the shape; their meta kernels are Python
                # decompositions costing ~10 ms a call, more than the whole rest of the trace.
                inplace = name.endswith('_') or mkwargs.get('inplace') is True or (
                    len(margs) > 1 and margs[-1] is True and name in _INPLACE_ARG)
                out = margs[0] if inplace else torch.empty_like(margs[0])
            else:
                out = func(*margs, **mkwargs)
        else:
            out = func(*args, **kwargs)
        self.handler(func, args, kwargs, out, self.module_stack[-1] if self.module_stack else '')
        return out


_SAME_SHAPE = frozenset({
    'batch_norm', 'layer_norm', 'group_norm', 'rms_norm', 'instance_norm', 'relu', 'relu_',
    'relu6', 'gelu', 'silu', 'hardswish', 'hardsigmoid', 'sigmoid', 'tanh', 'dropout', 'elu',
    'leaky_relu', 'hardtanh', 'mish', 'softplus'})
_INPLACE_ARG = frozenset({'relu', 'relu6', 'silu', 'hardswish', 'hardsigmoid', 'dropout', 'elu',
                          'leaky_relu', 'hardtanh', 'mish'})


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


@contextlib.contextmanager
def module_stack(model: nn.Module, on_output: Callable[[str, Any], None] | None = None
                 ) -> Iterator[list[str]]:
    """Yield a list kept equal to the names of the modules of ``model`` now running (innermost
    last), through forward hooks that are removed on exit; ``on_output(name, output)`` is called
    when a module returns."""
    names = {id(m): n for n, m in model.named_modules()}
    stack: list[str] = []
    handles = []

    def pre(module, args):
        name = names.get(id(module))
        if name is not None:
            stack.append(name)

    def post(module, args, out):
        name = names.get(id(module))
        if name is not None and stack:
            stack.pop()
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
