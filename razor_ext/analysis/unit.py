"""``ChannelUnit``: a group of channels that must be pruned together."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ChannelUnit:
    """Channels pruned together across every layer they couple.

    A unit holds ``num_atoms`` atoms (a channel, or a whole attention head / KV group with its
    query heads); removing an atom removes its indices from every coupled tensor.

    Attributes:
        name: MMRazor-style ``"<first module>_(start, end)_<num_channels>"``.
        num_channels: channels of the unit in its first module.
        output_related: ``(module, start, end)`` whose output channels (or norm/scale entries)
            belong to the unit.
        input_related: ``(module, start, end)`` whose input channels belong to the unit.
        prunable: whether channels may be removed.
        reason: why not, naming the op and module that caused it ('' when prunable).
        atoms: ``(num_atoms,)`` final atom ids (internal to one analysis).
        positions: indices into the analysis' position list of the tensors this unit touches.
        divisor: channels per atom in the first module (head dim for whole-head units).

    Example:
        >>> from razor_ext.analysis import ChannelAnalyzer
        >>> import torch
        >>> m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8),
        ...                         torch.nn.Conv2d(8, 4, 3))
        >>> [u.name for u in ChannelAnalyzer().analyze(m, torch.randn(1, 3, 8, 8)) if u.prunable]
        ['0_(0, 8)_8']
    """

    name: str
    num_channels: int
    output_related: list[tuple[str, int, int]]
    input_related: list[tuple[str, int, int]]
    prunable: bool
    reason: str
    atoms: np.ndarray = field(repr=False)
    positions: list[int] = field(repr=False)
    divisor: int = 1

    @property
    def num_atoms(self) -> int:
        return int(self.atoms.size)

    @property
    def modules(self) -> list[str]:
        seen: dict[str, None] = {}
        for m, _, _ in self.output_related + self.input_related:
            seen.setdefault(m, None)
        return list(seen)
