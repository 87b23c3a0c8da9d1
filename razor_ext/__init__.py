"""razor_ext: model compression for PyTorch (NAS, pruning, distillation, quantization) whose hot
paths are C++/CUDA kernels registered as ``torch.ops.razor_ext.*``.

Example:
    >>> import torch, razor_ext
    >>> w = torch.randn(8, 4, 3, 3)
    >>> razor_ext.ops.channel_norms([w], dims=[0]).shape
    torch.Size([8])
"""
from razor_ext.version import __version__
from razor_ext.extension import build_info, load_extension

load_extension()  # registers torch.ops.razor_ext.*; raises ImportError with a rebuild hint

from razor_ext import ops, registry  # noqa: E402  (ops need the schemas registered above)
from razor_ext.config import Config  # noqa: E402

__all__ = ["__version__", "Config", "build_info", "ops", "registry"]
from razor_ext.pruning import prune  # noqa: E402,F401  (razor_ext.prune)
