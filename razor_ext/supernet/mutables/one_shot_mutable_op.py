"""``OneShotMutableOP``: one of several candidate operations (SPOS-style single path)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from razor_ext.supernet.mutables.base_mutable import BaseMutable
from razor_ext.registry import MODELS


@MODELS.register_module()
class OneShotMutableOP(BaseMutable):
    """Runs the candidate named by ``current_choice``; candidates live in ``_candidates`` (an
    ``nn.ModuleDict``, MMRazor's attribute name, so checkpoint keys line up).

    Args:
        candidates: name -> ``nn.Module`` or a MODELS config dict.
        module_kwargs: keyword arguments merged into every candidate config (e.g. channels).
        alias: shared-choice name (see :class:`BaseMutable`).

    Shapes: whatever the candidates take and return (they must agree).

    Example:
        >>> op = OneShotMutableOP({'conv3': nn.Conv2d(4, 4, 3, padding=1), 'skip': nn.Identity()})
        >>> op.current_choice = 'skip'
        >>> x = torch.randn(1, 4, 5, 5)
        >>> torch.equal(op(x), x), op.choices
        (True, ['conv3', 'skip'])
    """

    def __init__(self, candidates: Mapping[str, nn.Module | Mapping[str, Any]],
                 module_kwargs: Mapping[str, Any] | None = None, alias: str | None = None) -> None:
        super().__init__(alias)
        if not isinstance(candidates, Mapping) or not candidates:
            raise ValueError('OneShotMutableOP needs a non-empty dict of candidates')
        built = {}
        for name, cand in candidates.items():
            if isinstance(cand, Mapping):
                cand = MODELS.build({**dict(cand), **dict(module_kwargs or {})})
            if not isinstance(cand, nn.Module):
                raise TypeError(f'candidate {name!r} must be an nn.Module or a config dict, '
                                f'got {type(cand).__name__}')
            built[name] = cand
        self._candidates = nn.ModuleDict(built)
        self._current_choice = next(iter(built))

    @property
    def choices(self) -> list[str]:
        return list(self._candidates.keys())

    def forward(self, x: Any) -> Any:
        return self._candidates[self._current_choice](x)

    def forward_all(self, x: Any) -> Any:
        """The sum of every candidate's output (used to initialise BN statistics of all paths)."""
        return sum(op(x) for op in self._candidates.values())

    def fix_chosen(self, chosen: str) -> None:
        """Keep only ``chosen``: the other candidates and their weights are dropped."""
        super().fix_chosen(chosen)
        for name in list(self._candidates.keys()):
            if name != chosen:
                del self._candidates[name]

    def to_static_op(self) -> nn.Module:
        """The chosen candidate itself: a plain torch module."""
        return self._candidates[self._current_choice]


