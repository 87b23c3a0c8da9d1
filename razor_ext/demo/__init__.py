"""The main job, ``razor-ext demo``: compress a digit classifier end to end on the embedded data
(teacher -> NAS -> distillation -> pruning -> int8 quantization -> verified ONNX) and write a
report a person can read.

Example:
    >>> from razor_ext.demo import run_demo
    >>> result = run_demo('razor_demo', quick=True)  # doctest: +SKIP
"""
from razor_ext.demo.context import DemoContext
from razor_ext.demo.pipeline import run_demo
from razor_ext.demo.stages import STAGES, Stage, StageResult

__all__ = ['DemoContext', 'STAGES', 'Stage', 'StageResult', 'run_demo']
