"""Loops registered in ``LOOPS``: what ``train_cfg`` / ``val_cfg`` / ``test_cfg`` name."""
from razor_ext.engine.loops.autoslim_search_loop import AutoSlimGreedySearchLoop
from razor_ext.engine.loops.base import BaseLoop
from razor_ext.engine.loops.darts_loops import DartsEpochBasedTrainLoop, DartsIterBasedTrainLoop
from razor_ext.engine.loops.distill_loops import SingleTeacherDistillValLoop
from razor_ext.engine.loops.quantization_loops import PTQLoop, QATEpochBasedLoop
from razor_ext.engine.loops.search_loops import (EvolutionSearchLoop, SlimmableValLoop,
                                                 SubnetValLoop)
from razor_ext.engine.loops.train_loops import EpochBasedTrainLoop, IterBasedTrainLoop
from razor_ext.engine.loops.val_test_loops import TestLoop, ValLoop

__all__ = ['AutoSlimGreedySearchLoop', 'BaseLoop', 'DartsEpochBasedTrainLoop', 'DartsIterBasedTrainLoop', 'EpochBasedTrainLoop', 'SlimmableValLoop',
           'EvolutionSearchLoop', 'IterBasedTrainLoop', 'PTQLoop', 'QATEpochBasedLoop',
           'SingleTeacherDistillValLoop', 'SubnetValLoop', 'TestLoop', 'ValLoop']
