"""Tracers: record the torch functions one forward calls, with the calling module."""
from razor_ext.models.task_modules.tracers.recorder import FunctionRecorder, frozen_state, module_stack

__all__ = ['FunctionRecorder', 'frozen_state', 'module_stack']
