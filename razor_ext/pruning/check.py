"""After pruning: run the pruned model and compare every module's output shapes with the shapes
the pruning plan predicts, so a broken model is an error naming the module, never silent."""
from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
from torch import Tensor, nn

from razor_ext.analysis.analyzer import (Analysis, output_tensors,
                                         split_inputs)
from razor_ext.analysis.tracer import FunctionRecorder, frozen_state, module_stack


class PruningCheckError(RuntimeError):
    """The pruned model does not run, or its shapes differ from the original's structure.

    ``module``: qualified name of the first module whose output differs from the plan or that
    raised (``''``: the model's own forward; None: only the final output differs)."""

    def __init__(self, message: str, module: str | None = None) -> None:
        super().__init__(message)
        self.module = module


def describe(model: nn.Module, name: str) -> str:
    """``'blocks.0.attn' (Attention)``, or ``the top-level forward (ViT)`` for ``''``."""
    try:
        cls = type(model.get_submodule(name)).__name__
    except AttributeError:
        cls = '?'
    return f'{name!r} ({cls})' if name else f'the top-level forward ({cls})'


def _predicted(labels: tuple, shape: tuple, removed: np.ndarray) -> tuple:
    out = []
    for lab, size in zip(labels, shape):
        if lab is None:
            out.append(size)
        else:
            out.append(int(np.count_nonzero((lab < 0) | ~removed[np.maximum(lab, 0)])))
    return tuple(out)


def run_shapes(model: nn.Module, example_inputs: Any, meta: bool) -> tuple[list, Any, str]:
    """Module output shapes (execution order, first call) and the output of one forward."""
    args, kwargs = split_inputs(example_inputs)
    seen: dict[str, list] = {}

    def on_output(name: str, out: Any) -> None:
        if name not in seen:
            seen[name] = [(p, tuple(t.shape)) for p, t in output_tensors(out)]

    with contextlib.ExitStack() as ctx:
        ctx.enter_context(frozen_state(model))
        stack = ctx.enter_context(module_stack(model, on_output))
        if meta:
            args = tuple(a.to('meta') if isinstance(a, Tensor) else a for a in args)
            kwargs = {k: v.to('meta') if isinstance(v, Tensor) else v for k, v in kwargs.items()}
            ctx.enter_context(FunctionRecorder(lambda *a: None, stack, meta=True))
        try:
            out = model(*args, **kwargs)
        except Exception as exc:
            where = stack.failed if stack.failed is not None else (stack[-1] if stack else '')
            err = PruningCheckError(f'the pruned model fails in module {describe(model, where)}: '
                                    f'{type(exc).__name__}: {exc}', where)
            err.seen = list(seen.items())
            raise err from exc
    return list(seen.items()), out, ''


def _first_mismatch(pruned: nn.Module, modules: list, analysis: Analysis, removed: np.ndarray,
                    then: str = '') -> None:
    for name, shapes in modules:
        expected = analysis.module_outputs.get(name)
        if expected is None:
            continue
        if len(expected) != len(shapes):
            raise PruningCheckError(f'module {describe(pruned, name)} of the pruned model returns '
                                    f'{len(shapes)} tensors, the original {len(expected)}{then}',
                                    name)
        for (path, labels), (_, shape) in zip(expected, shapes):
            want = _predicted(labels, shape, removed) if len(labels) == len(shape) else None
            if want != shape:
                raise PruningCheckError(f'module {describe(pruned, name)} of the pruned model '
                                        f'gives {path} of shape {shape}, the pruning plan '
                                        f'expects {want}{then}', name)


def check_pruned(pruned: nn.Module, example_inputs: Any, analysis: Analysis,
                 removed: np.ndarray) -> None:
    """Raise :class:`PruningCheckError` naming the first module (qualified name and class)
    whose output shape differs from the plan's prediction, else the module that raised, or the
    output whose structure or shape differs from the original's.

    ``removed``: ``(num final atoms,)`` bool, the atoms the plan removes.

    Example:
        >>> check_pruned(pruned, x, analysis, removed)  # doctest: +SKIP
        PruningCheckError: module 'blocks.0.attn' (Attention) of the pruned model gives ...
    """
    try:
        modules, out, _ = run_shapes(pruned, example_inputs, meta=True)
    except PruningCheckError:
        try:
            modules, out, _ = run_shapes(pruned, example_inputs, meta=False)
        except PruningCheckError as exc:
            # A module whose output already disagreed is where it went wrong, not the one
            # that raised later.
            _first_mismatch(pruned, getattr(exc, 'seen', []), analysis, removed,
                            f' (then {exc})')
            raise
    _first_mismatch(pruned, modules, analysis, removed)
    got = [(p, tuple(t.shape)) for p, t in output_tensors(out)]
    if [p for p, _ in got] != [p for p, _ in analysis.output_paths]:
        raise PruningCheckError(f'the pruned model returns {[p for p, _ in got]}, the original '
                                f'{[p for p, _ in analysis.output_paths]}')
    for (p, shape), (_, want) in zip(got, analysis.output_paths):
        if shape != want:
            raise PruningCheckError(f'{p} of the pruned model has shape {shape}, the original '
                                    f'{want}')
