"""Distillation algorithms."""
from razor_ext.models.algorithms.distill.checkpoint import (convert_to_student_checkpoint,
                                                            student_state_dict_from)
from razor_ext.models.algorithms.distill.single_teacher_distill import SingleTeacherDistill

__all__ = ['SingleTeacherDistill', 'convert_to_student_checkpoint', 'student_state_dict_from']
