"""DARTS's training loops (MMRazor's names): each iteration gets a pair ``(supernet_batch,
mutator_batch)`` from two data loaders, one for the weights and one for the architecture."""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from torch.utils.data import DataLoader

from razor_ext.engine.loops.train_loops import EpochBasedTrainLoop, IterBasedTrainLoop
from razor_ext.registry import LOOPS

if TYPE_CHECKING:
    from razor_ext.engine.runner import Runner

__all__ = ['DartsEpochBasedTrainLoop', 'DartsIterBasedTrainLoop', 'EpochMultiLoader']


class _MultiSampler:
    """Forwards ``set_epoch`` to the samplers of every loader (each epoch reshuffles all)."""

    def __init__(self, loaders: Sequence[Any]) -> None:
        self.loaders = loaders

    def set_epoch(self, epoch: int) -> None:
        for loader in self.loaders:
            sampler = getattr(loader, 'sampler', None)
            if hasattr(sampler, 'set_epoch'):
                sampler.set_epoch(epoch)


class EpochMultiLoader:
    """Several loaders read in step: yields tuples of one batch from each, for as many
    iterations as the shortest loader has (MMRazor's ``EpochMultiLoader``).

    It looks like a loader to the training loops (``len``, ``sampler.set_epoch``, ``dataset``
    of the first), so they resume and reshuffle it like any other.

    Example:
        >>> multi = EpochMultiLoader([[1, 2, 3], ['a', 'b']])
        >>> list(multi), len(multi)
        ([(1, 'a'), (2, 'b')], 2)
    """

    def __init__(self, dataloaders: Sequence[Any]) -> None:
        if len(dataloaders) < 1:
            raise ValueError('EpochMultiLoader needs at least one loader')
        self.dataloaders = list(dataloaders)
        self.sampler = _MultiSampler(self.dataloaders)

    @property
    def num_loaders(self) -> int:
        return len(self.dataloaders)

    @property
    def dataset(self) -> Any:
        return getattr(self.dataloaders[0], 'dataset', None)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return zip(*self.dataloaders)

    def __len__(self) -> int:
        return min(len(loader) for loader in self.dataloaders)


def _combine(loop: EpochBasedTrainLoop, runner: Runner,
             mutator_dataloader: DataLoader | Mapping[str, Any]) -> None:
    if isinstance(mutator_dataloader, Mapping):
        mutator_dataloader = runner.build_dataloader(mutator_dataloader, shard=True)
    loop.mutator_dataloader = mutator_dataloader
    loop.dataloader = EpochMultiLoader([loop.dataloader, mutator_dataloader])


@LOOPS.register_module()
class DartsEpochBasedTrainLoop(EpochBasedTrainLoop):
    """:class:`EpochBasedTrainLoop` over ``dataloader`` (weights) and ``mutator_dataloader``
    (architecture) in step: ``train_step`` gets ``(supernet_batch, mutator_batch)``, which
    :class:`~razor_ext.nas.algorithms.DARTS` expects with an optimizer dict. An epoch
    lasts as long as the shorter loader.

    Args:
        runner: the runner.
        dataloader: the weights' loader (or its config).
        mutator_dataloader: the architecture's loader (or its config), e.g. a held-out split.
        max_epochs, val_begin, val_interval: as :class:`EpochBasedTrainLoop`.

    Example (config):
        >>> train_cfg = dict(type='DartsEpochBasedTrainLoop', max_epochs=2,
        ...                  mutator_dataloader=dict(batch_size=32, dataset=dict(
        ...                      type='EmbeddedDigits', split='val')))
    """

    def __init__(self, runner: Runner, dataloader: DataLoader | Mapping[str, Any],
                 mutator_dataloader: DataLoader | Mapping[str, Any], max_epochs: int,
                 val_begin: int = 1, val_interval: int = 1) -> None:
        super().__init__(runner, dataloader, max_epochs, val_begin, val_interval)
        _combine(self, runner, mutator_dataloader)


@LOOPS.register_module()
class DartsIterBasedTrainLoop(IterBasedTrainLoop):
    """:class:`IterBasedTrainLoop` over two loaders in step (see
    :class:`DartsEpochBasedTrainLoop`); both are restarted (and reshuffled) when the shorter
    one runs out.

    Args:
        runner, dataloader, mutator_dataloader: see :class:`DartsEpochBasedTrainLoop`.
        max_iters, val_begin, val_interval: as :class:`IterBasedTrainLoop`.
    """

    def __init__(self, runner: Runner, dataloader: DataLoader | Mapping[str, Any],
                 mutator_dataloader: DataLoader | Mapping[str, Any], max_iters: int,
                 val_begin: int = 1, val_interval: int = 1000) -> None:
        super().__init__(runner, dataloader, max_iters, val_begin, val_interval)
        _combine(self, runner, mutator_dataloader)
