"""TorchFunctionalConnector and TorchNNConnector: wrap a torch function or layer by name."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.registry import MODELS

FUNCTION_LIST = ('adaptive_avg_pool2d', 'adaptive_max_pool2d', 'avg_pool2d', 'dropout',
                 'dropout2d', 'max_pool2d', 'normalize', 'relu', 'softmax', 'interpolate')
MODULE_LIST = ('AdaptiveAvgPool2d', 'AdaptiveMaxPool2d', 'AvgPool2d', 'BatchNorm2d', 'Conv2d',
               'Dropout', 'Dropout2d', 'Linear', 'MaxPool2d', 'ReLU', 'Softmax')


@MODELS.register_module()
class TorchFunctionalConnector(nn.Module):
    """``torch.nn.functional.<function_name>(x, **func_args)`` for a name in ``FUNCTION_LIST``.

    Example:
        >>> import torch
        >>> c = TorchFunctionalConnector('adaptive_avg_pool2d', dict(output_size=1))
        >>> c(torch.ones(2, 3, 4, 4)).shape
        torch.Size([2, 3, 1, 1])
    """

    def __init__(self, function_name: str | None = None,
                 func_args: Mapping[str, Any] | None = None,
                 init_cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if function_name not in FUNCTION_LIST:
            raise ValueError(f'function_name must be one of {FUNCTION_LIST}, got {function_name!r}')
        self.function_name = function_name
        self.func_args = dict(func_args or {})

    def forward(self, x: Tensor) -> Tensor:
        return getattr(F, self.function_name)(x, **self.func_args)


@MODELS.register_module()
class TorchNNConnector(nn.Module):
    """``torch.nn.<module_name>(**module_args)`` for a name in ``MODULE_LIST``.

    Example:
        >>> import torch
        >>> TorchNNConnector('Conv2d', dict(in_channels=3, out_channels=2, kernel_size=1))(
        ...     torch.ones(1, 3, 2, 2)).shape
        torch.Size([1, 2, 2, 2])
    """

    def __init__(self, module_name: str | None = None,
                 module_args: Mapping[str, Any] | None = None,
                 init_cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if module_name not in MODULE_LIST:
            raise ValueError(f'module_name must be one of {MODULE_LIST}, got {module_name!r}')
        self.func = getattr(nn, module_name)(**dict(module_args or {}))

    def forward(self, x: Tensor) -> Tensor:
        return self.func(x)
