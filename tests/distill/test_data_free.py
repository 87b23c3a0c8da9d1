"""DataFreeDistillation (DFAD / ZSKT), ZSKTGenerator, and DAFL with MMRazor's teachers dict."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from razor_ext.distill import DataFreeDistillation, ZSKTGenerator
from razor_ext.registry import MODELS
from tests.distill.toy_models import ToyMobileNet, ToyResNet


def mapping(loss: str, s: str = 'fc', t: str = 'fc') -> dict:
    return {loss: dict(s_feature=dict(from_student=True, recorder=s),
                       t_feature=dict(from_student=False, recorder=t))}


def dfad(student_iter: int = 1, student_train_first: bool = False) -> DataFreeDistillation:
    """DFAD in MMRazor's layout: the student minimises the L1 between logits, the generator
    maximises it (loss_weight -1); the teacher sits in a dict, sources prefixed by its name."""
    torch.manual_seed(0)
    fc = dict(fc=dict(type='ModuleOutputs', source='fc'))
    t_fc = dict(t_fc=dict(type='ModuleOutputs', source='res.fc'))
    return MODELS.build(dict(
        type='mmrazor.DataFreeDistillation', architecture=ToyMobileNet(width=4, in_channels=3),
        teachers=dict(res=dict(build_cfg=ToyResNet(width=8, in_channels=3))),
        generator=dict(type='ZSKTGenerator', img_size=8, latent_dim=16, hidden_channels=8),
        distiller=dict(type='ConfigurableDistiller', student_recorders=fc, teacher_recorders=t_fc,
                       distill_losses=dict(loss_l1=dict(type='L1Loss')),
                       loss_forward_mappings=mapping('loss_l1', t='t_fc')),
        generator_distiller=dict(type='ConfigurableDistiller', student_recorders=fc,
                                 teacher_recorders=t_fc,
                                 distill_losses=dict(loss_l1=dict(type='L1Loss', loss_weight=-1.0)),
                                 loss_forward_mappings=mapping('loss_l1', t='t_fc')),
        student_iter=student_iter, student_train_first=student_train_first))


class CountingSGD(torch.optim.SGD):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.steps = 0

    def step(self, closure=None):  # noqa: ANN001
        self.steps += 1
        return super().step(closure)


def test_zskt_generator_shapes_and_output_layer():
    g = ZSKTGenerator(img_size=32, latent_dim=256, hidden_channels=128)
    assert g(torch.randn(5, 256)).shape == (5, 3, 32, 32)
    assert isinstance(g.layers[-1], nn.BatchNorm2d) and g.layers[-1].affine
    # no tanh: values are not squashed into (-1, 1)
    assert g(batch_size=64).abs().max() > 1
    with pytest.raises(ValueError, match=r'\(N, 256\)'):
        g(torch.randn(2, 100))
    with pytest.raises(ValueError, match='divisible'):
        ZSKTGenerator(img_size=30, latent_dim=4, hidden_channels=8)


@pytest.mark.parametrize('first', [False, True])
def test_data_free_step_order_iterations_and_what_each_step_trains(first):
    algo = dfad(student_iter=3, student_train_first=first)
    assert not {id(p) for t in algo.teachers.values() for p in t.parameters()} & {
        id(p) for p in algo.parameters()}
    order = []
    for name in ('train_student', 'train_generator'):
        fn = getattr(algo, name)
        setattr(algo, name, lambda *a, _fn=fn, _n=name: order.append(_n) or _fn(*a))
    opt = dict(architecture=CountingSGD(algo.student.parameters(), lr=0.1),
               generator=CountingSGD(algo.generator.parameters(), lr=0.1))
    t_before = copy.deepcopy(algo.teachers['res'].state_dict())
    g_before = copy.deepcopy(algo.generator.state_dict())
    log = algo.train_step((torch.zeros(2, 3, 8, 8), None), opt)
    assert order == (['train_student', 'train_generator'] if first
                     else ['train_generator', 'train_student'])
    assert opt['architecture'].steps == 3 and opt['generator'].steps == 1
    assert log['generator.loss_l1'] <= 0 <= log['distill.loss_l1']  # adversarial sign
    assert all(torch.equal(v, algo.teachers['res'].state_dict()[k]) for k, v in t_before.items())
    assert not torch.equal(g_before['layers.0.weight'], algo.generator.layers[0].weight)
    if first:  # the generator step (last) leaves no gradient in the student for its next update
        assert all(p.grad is None for p in algo.student.parameters())


def test_generator_step_increases_the_discrepancy_it_maximises():
    algo = dfad()
    algo.student.eval()
    z = torch.randn(16, 16)

    def discrepancy() -> float:
        algo.generator.eval()
        with torch.no_grad():
            x = algo.generator(z)
            return (algo.student(x) - algo.teachers['res'](x)).abs().mean().item()

    before = discrepancy()
    opt = torch.optim.SGD(algo.generator.parameters(), lr=0.05)
    algo.generator.train()
    for _ in range(5):
        algo.train_generator(16, opt)
    assert discrepancy() > before


def test_teachers_must_be_a_dict_and_optimizer_a_pair():
    with pytest.raises(TypeError, match='teachers'):
        dfad().__class__(ToyMobileNet(in_channels=3), teachers={}, generator=ZSKTGenerator(8, 4, 8),
                         distiller=dict(type='ConfigurableDistiller'),
                         generator_distiller=dict(type='ConfigurableDistiller'))
    with pytest.raises(TypeError, match="'architecture' and 'generator'"):
        dfad().train_step((torch.zeros(2, 3, 8, 8), None), torch.optim.SGD([nn.Parameter(
            torch.zeros(1))], lr=0.1))


def test_dafl_takes_mmrazor_teacher_dict_with_prefixed_sources():
    torch.manual_seed(0)
    algo = MODELS.build(dict(
        type='DAFLDataFreeDistillation', architecture=ToyMobileNet(width=4, in_channels=3),
        teachers=dict(res34=dict(build_cfg=ToyResNet(width=8, in_channels=3))),
        generator=dict(type='DAFLGenerator', img_size=8, latent_dim=16, hidden_channels=8),
        distiller=dict(type='ConfigurableDistiller',
                       student_recorders=dict(fc=dict(type='ModuleOutputs', source='fc')),
                       teacher_recorders=dict(t=dict(type='ModuleOutputs', source='res34.fc')),
                       distill_losses=dict(loss_kl=dict(type='KLDivergence', tau=6)),
                       loss_forward_mappings=dict(loss_kl=dict(
                           preds_S=dict(from_student=True, recorder='fc'),
                           preds_T=dict(from_student=False, recorder='t')))),
        generator_distiller=dict(type='ConfigurableDistiller',
                                 teacher_recorders=dict(t=dict(type='ModuleOutputs',
                                                               source='res34.fc')),
                                 distill_losses=dict(loss_oh=dict(type='OnehotLikeLoss')),
                                 loss_forward_mappings=dict(loss_oh=dict(
                                     preds_T=dict(from_student=False, recorder='t'))))))
    opt = dict(architecture=CountingSGD(algo.student.parameters(), lr=0.1),
               generator=CountingSGD(algo.generator.parameters(), lr=0.1))
    log = algo.train_step((torch.zeros(4, 3, 8, 8), None), opt)
    assert {'generator.loss_oh', 'distill.loss_kl'} <= set(log)
    # MMRazor's DAFL: one generated batch, one update of each per step
    assert opt['architecture'].steps == 1 == opt['generator'].steps
