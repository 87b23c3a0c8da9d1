"""``OneShotMutableChannel``: a searchable channel count (a layer's elastic width)."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from razor_ext.supernet.mutables.mutable_value import OneShotMutableValue
from razor_ext.registry import MODELS

CHOICE_MODES = ('number', 'ratio')


@MODELS.register_module()
class OneShotMutableChannel(OneShotMutableValue):
    """The active width of a layer of ``num_channels`` channels: its leading
    ``current_choice`` channels.

    With ``choice_mode='ratio'`` the candidates are fractions of ``num_channels`` (MMRazor's
    convention), turned into ``max(1, int(ratio * num_channels))`` channels; ``choices`` and
    ``current_choice`` are always channel counts, and subnet files store counts too.

    Args:
        num_channels: the layer's full width.
        candidate_choices: channel counts (``'number'``) or ratios in (0, 1] (``'ratio'``).
        choice_mode: ``'number'`` or ``'ratio'``.
        alias: layers whose widths must agree (e.g. residual adds) share an alias or the mutable.

    Example:
        >>> ch = OneShotMutableChannel(64, [0.25, 0.5, 1.0], choice_mode='ratio')
        >>> ch.choices, ch.current_choice
        ([16, 32, 64], 64)
        >>> ch.current_choice = 16
        >>> ch.current_mask.sum().item(), ch.activated_channels
        (16, 16)
    """

    def __init__(self, num_channels: int, candidate_choices: Sequence[int | float],
                 choice_mode: str = 'number', alias: str | None = None) -> None:
        if not isinstance(num_channels, int) or num_channels < 1:
            raise ValueError(f'num_channels must be a positive int, got {num_channels!r}')
        if choice_mode not in CHOICE_MODES:
            raise ValueError(f'choice_mode must be one of {CHOICE_MODES}, got {choice_mode!r}')
        if not candidate_choices:
            raise ValueError('OneShotMutableChannel needs a non-empty candidate_choices')
        if choice_mode == 'ratio':
            bad = [r for r in candidate_choices if not 0 < float(r) <= 1]
            if bad:
                raise ValueError(f'ratio choices must lie in (0, 1], got {bad}')
            counts = [max(1, int(float(r) * num_channels)) for r in candidate_choices]
        else:
            bad = [c for c in candidate_choices if not (isinstance(c, int) and 1 <= c <= num_channels)]
            if bad:
                raise ValueError(f'channel choices must be ints in [1, {num_channels}], got {bad}')
            counts = list(candidate_choices)
        super().__init__(sorted(set(counts)), alias=alias)
        self.num_channels, self.choice_mode = num_channels, choice_mode
        self.candidate_choices = list(candidate_choices)

    @property
    def activated_channels(self) -> int:
        return int(self.current_choice)

    @property
    def current_mask(self) -> torch.Tensor:
        """Boolean ``(num_channels,)``: True on the active leading channels."""
        mask = torch.zeros(self.num_channels, dtype=torch.bool)
        mask[:self.current_choice] = True
        return mask

    def dump_chosen(self) -> dict:
        entry = super().dump_chosen()
        entry['meta']['num_channels'] = self.num_channels
        return entry

    def extra_repr(self) -> str:
        return (f'num_channels={self.num_channels}, choices={self.choices}, '
                f'current_choice={self.current_choice}')
