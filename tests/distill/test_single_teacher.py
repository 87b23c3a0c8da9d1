"""SingleTeacherDistill built from a config: frozen teacher, losses, checkpoints, devices."""
from __future__ import annotations

import copy

import pytest
import torch

from razor_ext.distill.algorithms import (SingleTeacherDistill,
                                          convert_to_student_checkpoint)
from razor_ext.registry import MODELS
from tests.distill.toy_models import ToyMobileNet, ToyResNet, kd_config


def batch(seed: int = 0, n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_config_built_distill_lowers_distill_loss_and_never_touches_teacher():
    torch.manual_seed(0)
    # Without the student's own loss (random labels here) the step optimises only the
    # distillation terms, so they must fall.
    algo = MODELS.build(kd_config(calculate_student_loss=False))
    assert isinstance(algo, SingleTeacherDistill)
    teacher = algo.teacher
    before = copy.deepcopy(teacher.state_dict())  # buffers too: BN stats must not move
    teacher_ids = {id(p) for p in teacher.parameters()}
    params = list(algo.parameters())
    assert params and not teacher_ids & {id(p) for p in params}
    optim = torch.optim.Adam(params, lr=1e-2)
    algo.train()
    inputs, labels = batch()
    first = last = None
    for _ in range(20):
        log = algo.train_step((inputs, labels), optim)
        distill = log['distill.loss_kl'] + log['distill.loss_cwd']
        first = distill if first is None else first
        last = distill
    assert set(log) == {'loss', 'distill.loss_kl', 'distill.loss_cwd'}
    assert last < 0.5 * first
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    after = teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(m.training for m in teacher.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_loss_returns_student_and_every_distill_loss_and_records_are_cleared():
    algo = MODELS.build(kd_config())
    losses = algo(*batch(), mode='loss')
    assert sorted(losses) == ['distill.loss_cwd', 'distill.loss_kl', 'student.loss']
    for manager in (algo.distiller.student_recorders, algo.distiller.teacher_recorders):
        assert all(r.data_buffer == [] for r in manager.recorders.values())
    # Predict/tensor runs outside a recorder context record nothing (memory does not grow).
    for _ in range(3):
        algo(batch()[0], mode='tensor')
    assert all(r.data_buffer == [] for r in algo.distiller.student_recorders.recorders.values())


def test_calculate_student_loss_false_and_distillation_stopped():
    algo = MODELS.build(kd_config(calculate_student_loss=False))
    assert sorted(algo(*batch(), mode='loss')) == ['distill.loss_cwd', 'distill.loss_kl']
    algo.distillation_stopped = True
    assert algo(*batch(), mode='loss') == {}


def test_teacher_in_half_precision_records_reach_the_student_in_float32():
    algo = MODELS.build(kd_config(teacher_dtype=torch.bfloat16, teacher_device='cpu'))
    assert next(algo.teacher.parameters()).dtype == torch.bfloat16
    algo.float()  # a pinned teacher stays where it was put
    assert next(algo.teacher.parameters()).dtype == torch.bfloat16
    losses = algo(*batch(), mode='loss')
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())
    losses['distill.loss_kl'].backward()


def test_unpinned_frozen_teacher_follows_to():
    algo = MODELS.build(kd_config())
    algo.double()
    assert next(algo.teacher.parameters()).dtype == torch.float64
    assert torch.isfinite(algo(batch()[0].double(), batch()[1], mode='loss')['distill.loss_kl'])


def test_trainable_teacher_is_registered_and_gets_its_losses():
    algo = MODELS.build(kd_config(teacher_trainable=True))
    assert {id(p) for p in algo.teacher.parameters()} <= {id(p) for p in algo.parameters()}
    losses = algo(*batch(), mode='loss')
    assert 'teacher.loss' in losses


def test_student_state_dict_and_checkpoint_conversion(tmp_path):
    algo = MODELS.build(kd_config())
    assert 'teacher' not in ''.join(algo.state_dict())
    student = ToyMobileNet()
    student.load_state_dict(algo.student_state_dict(), strict=True)
    path = tmp_path / 'algo.pth'
    state = dict(algo.state_dict())
    state.update({f'teacher.{k}': v for k, v in algo.teacher.state_dict().items()})  # MMRazor layout
    torch.save({'state_dict': state, 'meta': {}}, path)
    converted = convert_to_student_checkpoint(path, tmp_path / 'student.pth')
    fresh = ToyMobileNet()
    fresh.load_state_dict(torch.load(tmp_path / 'student.pth')['state_dict'], strict=True)
    x = batch()[0]
    algo.eval()
    fresh.eval()
    torch.testing.assert_close(fresh(x), algo.student(x))
    assert set(converted) == set(ToyMobileNet().state_dict())


def test_teacher_ckpt_is_loaded(tmp_path):
    teacher = ToyResNet()
    torch.nn.init.constant_(teacher.fc.bias, 3.0)
    torch.save(teacher.state_dict(), tmp_path / 't.pth')
    algo = MODELS.build(kd_config(teacher_ckpt=str(tmp_path / 't.pth')))
    assert torch.all(algo.teacher.fc.bias == 3.0)


def test_bad_teacher_dtype_names_argument():
    with pytest.raises(TypeError, match='teacher_dtype'):
        MODELS.build(kd_config(teacher_dtype=torch.int8))


def test_distill_step_under_autocast():
    # Mixed precision: teacher and student run in bfloat16, the KD / CWD losses in float32 on
    # their cast outputs (as ATen's kl_div does), and the student gets float32 gradients.
    torch.manual_seed(0)
    algo = MODELS.build(kd_config())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = algo(*batch(), mode='loss')
    assert sorted(losses) == ['distill.loss_cwd', 'distill.loss_kl', 'student.loss']
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    grads = [p.grad for p in algo.parameters() if p.requires_grad]
    assert grads and all(g is not None and g.dtype == torch.float32 for g in grads)
