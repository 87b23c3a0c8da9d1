"""``BaseOP``: what every searchable candidate operation knows (MMRazor's base class)."""
from __future__ import annotations

from torch import nn


class BaseOP(nn.Module):
    """A candidate op with ``in_channels``, ``out_channels`` and ``stride``: the arguments a
    searchable backbone passes to every candidate through ``module_kwargs``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        for name, value in (('in_channels', in_channels), ('out_channels', out_channels),
                            ('stride', stride)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{type(self).__name__}: {name} must be a positive int, '
                                 f'got {value!r}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
