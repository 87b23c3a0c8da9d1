"""Loops registered in ``LOOPS``: what ``train_cfg`` / ``val_cfg`` / ``test_cfg`` name."""
from razor_ext.engine.loops.base import BaseLoop
from razor_ext.engine.loops.train_loops import EpochBasedTrainLoop, IterBasedTrainLoop
from razor_ext.engine.loops.val_test_loops import TestLoop, ValLoop
from razor_ext.engine.loops.quantization_loops import PTQLoop, QATEpochBasedLoop  # noqa: E402
from razor_ext.engine.loops.search_loops import EvolutionSearchLoop, SubnetValLoop  # noqa: E402

__all__ = ['BaseLoop', 'EpochBasedTrainLoop', 'EvolutionSearchLoop', 'IterBasedTrainLoop', 'PTQLoop',
           'QATEpochBasedLoop', 'SubnetValLoop', 'TestLoop', 'ValLoop']
from razor_ext.engine.loops.darts_loops import DartsEpochBasedTrainLoop, DartsIterBasedTrainLoop  # noqa: E402

__all__ += ['DartsEpochBasedTrainLoop', 'DartsIterBasedTrainLoop']
