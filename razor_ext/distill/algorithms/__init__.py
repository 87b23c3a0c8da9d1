"""Distillation algorithms."""
from razor_ext.distill.algorithms.checkpoint import (convert_to_student_checkpoint,
                                                     student_state_dict_from)
from razor_ext.distill.algorithms.dafl import DAFLDataFreeDistillation, DAFLGenerator
from razor_ext.distill.algorithms.data_free import DataFreeDistillation
from razor_ext.distill.algorithms.overhaul_feature_distillation import (
    OFDDistiller, OverhaulFeatureDistillation, margin_from_bn)
from razor_ext.distill.algorithms.self_distill import SelfDistill
from razor_ext.distill.algorithms.single_teacher_distill import SingleTeacherDistill
from razor_ext.distill.algorithms.zskt_generator import ZSKTGenerator

__all__ = ['SingleTeacherDistill', 'SelfDistill', 'OverhaulFeatureDistillation', 'OFDDistiller',
           'DAFLDataFreeDistillation', 'DAFLGenerator', 'DataFreeDistillation', 'ZSKTGenerator',
           'margin_from_bn',
           'convert_to_student_checkpoint', 'student_state_dict_from']
