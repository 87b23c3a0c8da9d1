"""razor_ext: model compression for PyTorch (NAS, pruning, distillation, quantization) whose hot
paths are C++/CUDA kernels registered as ``torch.ops.razor_ext.*``.

One package per technique (:mod:`razor_ext.nas`, :mod:`razor_ext.pruning`,
:mod:`razor_ext.distill`, :mod:`razor_ext.quantization`) over shared machinery
(:mod:`razor_ext.supernet`, :mod:`razor_ext.analysis`, :mod:`razor_ext.estimators`,
:mod:`razor_ext.architectures`, :mod:`razor_ext.export`, :mod:`razor_ext.data`), with
:mod:`razor_ext.engine` (runner, loops, hooks) above them. ``import razor_ext`` alone reaches each
of them: they are imported on first attribute access.

Example:
    >>> import torch, razor_ext
    >>> w = torch.randn(8, 4, 3, 3)
    >>> razor_ext.ops.channel_norms([w], dims=[0]).shape
    torch.Size([8])
    >>> razor_ext.export.to_onnx.__name__, razor_ext.nas.SPOS.__name__
    ('to_onnx', 'SPOS')
"""
from __future__ import annotations

import importlib
from typing import Any

from razor_ext.version import __version__
from razor_ext.extension import build_info, load_extension

load_extension()  # registers torch.ops.razor_ext.*; raises ImportError with a rebuild hint

from razor_ext import ops, registry  # noqa: E402  (ops need the schemas registered above)
from razor_ext.config import Config  # noqa: E402

# Subpackages imported on first access (``razor_ext.nas``), so ``import razor_ext`` stays cheap.
_SUBPACKAGES = ('algorithm', 'analysis', 'architectures', 'commands', 'config', 'data', 'demo',
                'distill', 'engine', 'estimators', 'export', 'fileio', 'hessian', 'joint', 'nas',
                'pruning', 'quantization', 'supernet')
# Top-level names that live in a subpackage: name -> (module, attribute).
_NAMES = {'BaseAlgorithm': ('razor_ext.algorithm', 'BaseAlgorithm'),
          'prune': ('razor_ext.pruning.prune', 'prune'),
          'search_compression': ('razor_ext.joint.search', 'search_compression')}

__all__ = ['BaseAlgorithm', 'Config', '__version__', 'build_info', 'ops', 'prune', 'registry',
           'search_compression',
           *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f'razor_ext.{name}')
    if name in _NAMES:
        module, attr = _NAMES[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f'module "razor_ext" has no attribute "{name}"')


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
