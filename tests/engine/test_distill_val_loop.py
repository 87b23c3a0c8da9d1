"""SingleTeacherDistillValLoop: the student's metrics, and the teacher's under ``teacher.``."""
from __future__ import annotations

import pytest
import torch

from razor_ext.engine import Runner
from razor_ext.engine.evaluator import Accuracy
from razor_ext.engine.loops.val_test_loops import evaluate
from razor_ext.algorithm import BaseAlgorithm


def _kd_model() -> dict:
    return dict(
        type='SingleTeacherDistill', architecture=dict(type='MnistCNN', width=4),
        teacher=dict(type='MnistCNN', width=8),
        distiller=dict(
            type='ConfigurableDistiller',
            student_recorders=dict(logits=dict(type='ModuleOutputs', source='head')),
            teacher_recorders=dict(logits=dict(type='ModuleOutputs', source='head')),
            distill_losses=dict(loss_kd=dict(type='KLDivergence', tau=4.0)),
            loss_forward_mappings=dict(loss_kd=dict(
                preds_S=dict(from_student=True, recorder='logits'),
                preds_T=dict(from_student=False, recorder='logits')))))


def test_val_loop_reports_student_and_teacher(make_cfg):
    torch.manual_seed(0)
    runner = Runner.from_cfg(make_cfg(model=_kd_model(), max_epochs=1,
                                      val_cfg=dict(type='SingleTeacherDistillValLoop')))
    runner.train()
    metrics = runner.val()
    assert {'accuracy/top1', 'loss', 'teacher.accuracy/top1', 'teacher.loss'} <= set(metrics)
    algo = runner.model
    loader = runner.val_loop.dataloader
    student = evaluate(algo, loader, Accuracy())
    teacher = evaluate(BaseAlgorithm(algo.teacher), loader, Accuracy())
    assert metrics['accuracy/top1'] == pytest.approx(student['accuracy/top1'])
    assert metrics['teacher.accuracy/top1'] == pytest.approx(teacher['accuracy/top1'])
    assert metrics['teacher.loss'] == pytest.approx(teacher['loss'], rel=1e-5)
    assert metrics['teacher.loss'] != pytest.approx(metrics['loss'])  # really the other model


def test_val_loop_refuses_a_model_without_teacher(make_cfg):
    with pytest.raises(TypeError, match='needs a distillation algorithm'):
        Runner.from_cfg(make_cfg(val_cfg=dict(type='SingleTeacherDistillValLoop'))).val()
