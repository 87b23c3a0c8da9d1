"""``DynamicSequential``: elastic depth (run the first ``depth`` blocks)."""
from __future__ import annotations

from typing import Any

from torch import nn

from razor_ext.supernet.dynamic_ops.dynamic_mixin import MUTABLE_CONTAINERS, DynamicMixin
from razor_ext.registry import MODELS


@MODELS.register_module()
class DynamicSequential(DynamicMixin, nn.Sequential):
    """``nn.Sequential`` whose ``depth`` mutable keeps only the first ``depth`` blocks.

    Example:
        >>> from razor_ext.supernet.mutables import OneShotMutableValue
        >>> seq = DynamicSequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
        >>> _ = seq.register_mutable_attr('depth', OneShotMutableValue([1, 3]))
        >>> seq.get_mutable_attr('depth').current_choice = 1
        >>> len(seq.to_static_op()), len(seq.pure_blocks)
        (1, 3)
    """

    accepted_mutable_attrs = ('depth',)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._init_dynamic()

    @property
    def pure_blocks(self) -> list[nn.Module]:
        """Every block, whatever the depth (the mutable containers excluded)."""
        return [m for name, m in self._modules.items() if name not in MUTABLE_CONTAINERS]

    def _check_attr_choice(self, attr: str, choice: Any) -> None:
        n = len(self.pure_blocks)
        if not isinstance(choice, int) or not 1 <= choice <= n:
            raise ValueError(f'DynamicSequential.depth: choice {choice!r} must be an int in [1, {n}]')

    def active_blocks(self) -> list[nn.Module]:
        blocks = self.pure_blocks
        return blocks[:self.active('depth', len(blocks))]

    def forward(self, x: Any) -> Any:
        for block in self.active_blocks():
            x = block(x)
        return x

    def __len__(self) -> int:
        return len(self.pure_blocks)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.pure_blocks)

    def owned_parameters(self) -> list[nn.Parameter]:
        return []  # the blocks count themselves when they run

    def count_active_params(self, x: Any) -> int:
        return 0

    def to_static_op(self) -> nn.Sequential:
        """An ``nn.Sequential`` of the active blocks (still dynamic inside: the subnet export
        converts them in turn)."""
        return nn.Sequential(*self.active_blocks())
