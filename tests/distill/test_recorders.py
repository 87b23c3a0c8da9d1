"""Recorders, deliveries and the distiller's build-time validation."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from razor_ext.distill.deliveries import DistillDeliveryManager
from razor_ext.distill.configurable_distiller import ConfigurableDistiller
from razor_ext.distill.recorders import RecorderManager
from tests.distill import toy_models
from tests.distill.toy_models import ToyMobileNet, ToyResNet


def helper_scale(x: torch.Tensor) -> torch.Tensor:
    """A module-level function for the function recorders and deliveries to patch."""
    return x * 2


class UsesHelper(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import tests.distill.test_recorders as me
        return me.helper_scale(x) + torch.rand_like(x)


def test_every_recorder_kind_records_inside_the_context_only():
    model = ToyResNet()
    manager = RecorderManager(dict(
        out=dict(type='ModuleOutputs', source='layer1'),
        inp=dict(type='ModuleInputs', source='fc'),
        meth_out=dict(type='MethodOutputs', source='tests.distill.toy_models.ToyResNet.forward'),
        meth_in=dict(type='MethodInputs', source='tests.distill.toy_models.ToyResNet.forward'),
        fn_out=dict(type='FunctionOutputs', source='tests.distill.test_recorders.helper_scale'),
        fn_in=dict(type='FunctionInputsRecorder',
                   source='tests.distill.test_recorders.helper_scale'),
        param=dict(type='Parameter', source='fc.weight')))
    manager.initialize(model)
    x = torch.randn(2, 1, 6, 6)
    helper = UsesHelper()
    original_forward = ToyResNet.forward
    with manager:
        y = model(x)
        helper(x)
    assert ToyResNet.forward is original_forward  # patches are undone
    assert helper_scale is globals()['helper_scale']
    get = lambda name, **kw: manager.get_recorder(name).get_record_data(**kw)  # noqa: E731
    assert get('out').shape == (2, 16, 6, 6)
    assert get('inp', data_idx=0).shape == (2, 16)
    torch.testing.assert_close(get('meth_out'), y)
    assert get('meth_in', data_idx=0) is x
    torch.testing.assert_close(get('fn_out'), 2 * x)
    assert get('fn_in', data_idx=0) is x
    assert get('param') is model.fc.weight
    with pytest.raises(IndexError, match='record_idx'):
        get('out', record_idx=1)
    # Outside the context nothing is recorded; entering again starts from empty.
    model(x)
    assert len(manager.get_recorder('out').data_buffer) == 1
    with manager:
        pass
    assert manager.get_recorder('out').data_buffer == []
    assert manager.get_recorder('param').data_buffer == [model.fc.weight]


def test_recorder_bad_sources_are_named():
    with pytest.raises(ValueError, match='nope'):
        RecorderManager(dict(a=dict(type='ModuleOutputs', source='nope'))).initialize(ToyResNet())
    with pytest.raises(ValueError, match='no_such_fn'):
        RecorderManager(dict(a=dict(type='FunctionOutputs', source='torch.nn.functional.no_such_fn')))
    with pytest.raises(KeyError, match='Bogus'):
        RecorderManager(dict(a=dict(type='Bogus', source='x')))


def test_deliveries_replay_teacher_outputs_in_the_student():
    manager = DistillDeliveryManager(dict(
        noise=dict(type='FunctionOutputs', func_path='torch.rand_like', max_keep_data=2),
        scale=dict(type='MethodOutputs',
                   method_path='tests.distill.test_recorders.UsesHelper.forward')))
    x = torch.ones(3)
    with manager:
        teacher_out = UsesHelper()(x)
    manager.override_data = True
    with manager:
        student_out = UsesHelper()(x)
    assert torch.equal(teacher_out, student_out)
    with manager, pytest.raises(RuntimeError, match='no teacher output left'):
        UsesHelper()(x)


def base_cfg(**overrides):
    cfg = dict(
        student_recorders=dict(fc=dict(type='ModuleOutputs', source='fc')),
        teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='fc')),
        connectors=dict(proj=dict(type='LinearConnector', in_channel=10, out_channel=10)),
        distill_losses=dict(loss_kd=dict(type='KLDivergence')),
        loss_forward_mappings=dict(loss_kd=dict(
            preds_S=dict(recorder='fc', from_student=True, connector='proj'),
            preds_T=dict(recorder='fc', from_student=False))))
    cfg.update(overrides)
    return cfg


@pytest.mark.parametrize('mapping, error, match', [
    (dict(loss_typo=dict()), KeyError, 'loss_typo'),
    (dict(loss_kd=dict(preds_X=dict(recorder='fc', from_student=True))), KeyError, 'preds_X'),
    (dict(loss_kd=dict(preds_S=dict(recorder='nope', from_student=True),
                       preds_T=dict(recorder='fc', from_student=False))), KeyError, 'nope'),
    (dict(loss_kd=dict(preds_S=dict(recorder='fc', from_student=True, connector='conn9'),
                       preds_T=dict(recorder='fc', from_student=False))), KeyError, 'conn9'),
    (dict(loss_kd=dict(preds_S=dict(recorder='fc', from_student=1),
                       preds_T=dict(recorder='fc', from_student=False))), TypeError, 'from_student'),
    (dict(loss_kd=dict(preds_S=dict(recorder='fc', from_student=True))), KeyError, 'preds_T'),
    (dict(loss_kd=dict(preds_S=dict(recorder='fc'),
                       preds_T=dict(recorder='fc', from_student=False))), KeyError, 'from_student'),
])
def test_distiller_validates_mappings_at_build_time(mapping, error, match):
    with pytest.raises(error, match=match):
        ConfigurableDistiller(**base_cfg(loss_forward_mappings=mapping))


def test_distiller_unknown_loss_or_connector_type_is_named():
    with pytest.raises(KeyError, match='KLDivergense'):
        ConfigurableDistiller(**base_cfg(distill_losses=dict(loss_kd=dict(type='KLDivergense'))))
    with pytest.raises(KeyError, match='connector .*proj.*Nope'):
        ConfigurableDistiller(**base_cfg(connectors=dict(proj=dict(type='Nope'))))


def test_distiller_connector_list_and_indices():
    d = ConfigurableDistiller(**base_cfg(
        student_recorders=dict(inp=dict(type='ModuleInputs', source='fc')),
        teacher_recorders=dict(inp=dict(type='ModuleInputs', source='fc')),
        connectors=dict(proj=[dict(type='LinearConnector', in_channel=8, out_channel=16),
                              dict(type='TorchNNConnector', module_name='ReLU')]),
        distill_losses=dict(loss_l2=dict(type='L2Loss')),
        loss_forward_mappings=dict(loss_l2=dict(
            s_feature=dict(recorder='inp', from_student=True, data_idx=0, connector='proj'),
            t_feature=dict(recorder='inp', from_student=False, data_idx=0)))))
    student, teacher = ToyMobileNet(), ToyResNet()
    d.prepare_from_student(student)
    d.prepare_from_teacher(teacher)
    x = torch.randn(2, 1, 4, 4)
    with d.teacher_recorders:
        teacher(x)
    with d.student_recorders:
        student(x)
    loss = d.compute_distill_losses()['loss_l2']
    loss.backward()
    assert d.connectors['proj'][0].linear.weight.grad is not None
    assert toy_models.ToyResNet is ToyResNet
    assert F.relu is torch.nn.functional.relu


def test_a_recorded_model_can_still_be_deep_copied():
    import copy

    import torch
    from torch import nn

    from razor_ext.distill.recorders import ModuleOutputsRecorder

    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    rec = ModuleOutputsRecorder('0')
    rec.initialize(model)
    with rec:
        model(torch.ones(1, 2))
    twin = copy.deepcopy(model)  # e.g. a student handed on to pruning or quantization
    torch.testing.assert_close(twin(torch.ones(1, 2)), model(torch.ones(1, 2)))
    assert len(rec.data_buffer) == 1
