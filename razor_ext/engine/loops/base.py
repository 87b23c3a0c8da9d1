"""``BaseLoop``: what every loop (training, validation, search, calibration) shares."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from torch.utils.data import DataLoader

if TYPE_CHECKING:
    from razor_ext.engine.runner import Runner


class BaseLoop:
    """A loop driven by a :class:`~razor_ext.engine.Runner` over one data loader.

    Subclasses implement :meth:`run`. ``dataloader`` may be a built ``DataLoader`` or a config
    dict that the runner builds (MMEngine's convention), or None for loops that need no data.

    Example:
        >>> class CountLoop(BaseLoop):
        ...     def run(self):
        ...         return sum(len(batch[1]) for batch in self.dataloader)
    """

    #: Whether the loop steps an optimizer (training loops); the runner refuses to start such a
    #: loop without an ``optim_wrapper``. Search and calibration loops need none.
    needs_optimizer: bool = False
    #: Whether each rank of a data-parallel run gets its own shard of the loader (training
    #: loops); evaluation and search loops see the whole set on every rank.
    shard_data: bool = False

    def __init__(self, runner: Runner, dataloader: DataLoader | Mapping[str, Any] | None) -> None:
        self.runner = runner
        if isinstance(dataloader, Mapping):
            dataloader = runner.build_dataloader(dataloader, shard=self.shard_data)
        self.dataloader = dataloader

    def run(self) -> Any:
        raise NotImplementedError(f'{type(self).__name__} must implement run()')
