"""Distillation algorithms."""
from razor_ext.models.algorithms.distill.checkpoint import (convert_to_student_checkpoint,
                                                            student_state_dict_from)
from razor_ext.models.algorithms.distill.dafl import DAFLDataFreeDistillation, DAFLGenerator
from razor_ext.models.algorithms.distill.overhaul_feature_distillation import (
    OFDDistiller, OverhaulFeatureDistillation, margin_from_bn)
from razor_ext.models.algorithms.distill.self_distill import SelfDistill
from razor_ext.models.algorithms.distill.single_teacher_distill import SingleTeacherDistill

__all__ = ['SingleTeacherDistill', 'SelfDistill', 'OverhaulFeatureDistillation', 'OFDDistiller',
           'DAFLDataFreeDistillation', 'DAFLGenerator', 'margin_from_bn',
           'convert_to_student_checkpoint', 'student_state_dict_from']
