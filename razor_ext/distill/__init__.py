"""Knowledge distillation: recorders capture teacher and student features, connectors adapt them,
losses compare them, a :class:`ConfigurableDistiller` wires the three together, and the algorithms
(SingleTeacherDistill, SelfDistill, OverhaulFeatureDistillation, DAFL) train with it.

Example:
    >>> import torch
    >>> from razor_ext.registry import MODELS
    >>> kd = MODELS.build(dict(type='KLDivergence', tau=4.0))
    >>> float(kd(torch.zeros(2, 10), torch.zeros(2, 10)))
    0.0
"""
from razor_ext.distill import algorithms, connectors, deliveries, losses, recorders
from razor_ext.distill.algorithms import (DAFLDataFreeDistillation, DAFLGenerator, OFDDistiller,
                                          OverhaulFeatureDistillation, SelfDistill,
                                          SingleTeacherDistill, convert_to_student_checkpoint,
                                          student_state_dict_from)
from razor_ext.distill.algorithms import DataFreeDistillation, ZSKTGenerator
from razor_ext.distill.byot_distiller import BYOTDistiller
from razor_ext.distill.configurable_distiller import ConfigurableDistiller

__all__ = ['ConfigurableDistiller', 'DAFLDataFreeDistillation', 'DAFLGenerator', 'OFDDistiller',
           'OverhaulFeatureDistillation', 'SelfDistill', 'SingleTeacherDistill', 'algorithms',
           'connectors', 'convert_to_student_checkpoint', 'deliveries', 'losses', 'recorders',
           'student_state_dict_from']
__all__ += ['BYOTDistiller', 'DataFreeDistillation', 'ZSKTGenerator']
from razor_ext.distill import not_implemented  # noqa: E402,F401  (registers MMRazor names it lacks)
