"""Data-parallel training on 2 gloo processes (CPU): supernet, distillation, QAT, resume."""
from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from tests.engine.distributed.two_rank_jobs import search_once

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason='torch.distributed with gloo is not available')


def _assert_equal_states(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_supernet_same_subnet_and_weights_on_both_ranks(ranks):
    (r0, r1), _ = ranks
    # 500 images, batch 50, 2 ranks: 5 steps each (the data is sharded, not repeated).
    assert r0['spos_iters'] == r1['spos_iters'] == 5
    assert r0['spos_choices'] == r1['spos_choices']
    assert len({str(c) for c in r0['spos_choices']}) > 1  # the subnet does change between steps
    _assert_equal_states(r0['spos'], r1['spos'])


def test_distillation_teacher_not_all_reduced_and_student_identical(ranks):
    (r0, r1), _ = ranks
    assert not r0['kd_teacher_in_optimizer'] and not r1['kd_teacher_in_optimizer']
    _assert_equal_states(r0['kd'], r1['kd'])


def test_qat_parameters_and_observers_identical(ranks):
    (r0, r1), _ = ranks
    assert any('scale' in k for k in r0['qat'])
    _assert_equal_states(r0['qat'], r1['qat'])


def test_observer_statistics_reduced_over_ranks(ranks):
    (r0, r1), _ = ranks
    from razor_ext.quantization.fake_quantize import FakeQuantize

    single = FakeQuantize(dict(type='MinMaxObserver'), quant_min=0, quant_max=255)
    single(torch.tensor([-1.0, 0.5, -0.2, 3.0]))  # both ranks' data in one process
    assert r0['observer'][:2] == r1['observer'][:2] == (-1.0, 3.0)
    for r in (r0, r1):
        assert torch.equal(r['observer'][2], single.scale) and torch.equal(r['observer'][3], single.zero_point)


def test_group_fisher_prunes_the_same_channels_on_both_ranks(ranks):
    (r0, r1), _ = ranks
    assert r0['gf'][0] == 2  # 5 steps, a removal every 2
    assert r0['gf'] == r1['gf']


def test_cpu_sync_batchnorm_equals_batchnorm_over_the_global_batch(ranks):
    (r0, r1), _ = ranks
    gen = torch.Generator().manual_seed(5)
    full, probe = torch.randn(8, 3, 4, 5, generator=gen), torch.randn(8, 3, 4, 5, generator=gen)
    bn = torch.nn.BatchNorm2d(3)
    x = full.clone().requires_grad_(True)
    (bn(x) * probe).sum().backward()
    torch.testing.assert_close(torch.cat([r0['syncbn'][1], r1['syncbn'][1]]), x.grad, rtol=1e-4, atol=1e-5)
    for r in (r0, r1):
        torch.testing.assert_close(r['syncbn'][2], bn.weight.grad, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(r['syncbn'][3], bn.running_mean)
        torch.testing.assert_close(r['syncbn'][4], bn.running_var)


def test_sync_bn_and_resume_end_where_a_straight_run_does(ranks):
    (r0, r1), out = ranks
    assert r0['sync_bn_types'] == ['CpuSyncBatchNorm']
    assert r0['resumed_from_epoch'] == 1
    _assert_equal_states(r0['straight'], r1['straight'])
    for r in (r0, r1):
        _assert_equal_states(r['straight'], r['resumed'])


def test_rank_zero_alone_writes(ranks):
    _, out = ranks
    names = sorted(p.name for p in (out / 'straight').iterdir())
    assert 'epoch_2.pth' in names and 'last_checkpoint' in names and 'log.jsonl' in names
    assert not any('.tmp' in n for n in names)


def test_distributed_evolution_search_returns_the_single_process_result(ranks):
    (r0, r1), _ = ranks
    single = search_once()
    expected = (single.best_choices, single.best_score, [c.score for c in single.candidates])
    assert r0['search'] == r1['search'] == expected


def test_auto_scale_lr_scales_by_the_total_batch(ranks):
    (r0, r1), _ = ranks
    for r in (r0, r1):
        factor, lr, base_lrs = r['auto_lr']
        assert factor == 2 * 50 / 25
        assert lr == pytest.approx(0.05 * 4) and base_lrs == [pytest.approx(0.05 * 4)]
