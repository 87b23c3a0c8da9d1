"""Recorders (MMRazor's task_modules/recorder): capture a model's intermediate results."""
from razor_ext.distill.recorders.base_recorder import BaseRecorder
from razor_ext.distill.recorders.module_recorders import ModuleInputsRecorder, ModuleOutputsRecorder
from razor_ext.distill.recorders.param_recorder import ParameterRecorder
from razor_ext.distill.recorders.patch_recorders import (FunctionInputsRecorder,
                                                         FunctionOutputsRecorder,
                                                         MethodInputsRecorder, MethodOutputsRecorder)
from razor_ext.distill.recorders.recorder_manager import RecorderManager

__all__ = ['BaseRecorder', 'ModuleOutputsRecorder', 'ModuleInputsRecorder', 'ParameterRecorder',
           'FunctionOutputsRecorder', 'FunctionInputsRecorder', 'MethodOutputsRecorder',
           'MethodInputsRecorder', 'RecorderManager']
