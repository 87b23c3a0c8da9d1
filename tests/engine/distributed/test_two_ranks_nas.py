"""Several forwards or gradient passes per step under 2 gloo ranks (the sandwich rule of
AutoSlim/BigNAS, DARTS first and second order) and unused parameters (SPOS), against one
process on the same global batches. See ``two_rank_nas_jobs`` for why the supernet has no
BatchNorm and why the comparison with one process is to a float tolerance."""
from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from tests.engine.distributed.two_rank_nas_jobs import KINDS, train

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason='torch.distributed with gloo is not available')

# Two ranks sum the two halves' gradients in another order than one process sums the batch:
# the float32 results differ by rounding only (about 1e-8 here).
CLOSE = dict(rtol=1e-5, atol=1e-6)


@pytest.fixture(scope='module')
def single():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {kind: train(kind) for kind in KINDS}
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize('kind', KINDS)
def test_both_ranks_end_bitwise_identical(ranks, kind):
    (r0, r1), _ = ranks
    a, b = r0['nas'][kind], r1['nas'][kind]
    assert a['choices'] == b['choices']
    assert a['state'].keys() == b['state'].keys()
    for key in a['state']:
        assert torch.equal(a['state'][key], b['state'][key]), key


@pytest.mark.parametrize('kind', KINDS)
def test_two_ranks_equal_one_process_on_the_global_batch(ranks, single, kind):
    (r0, _), _ = ranks
    two, one = r0['nas'][kind], single[kind]
    assert two['choices'] == one['choices']  # the same subnets, in the same order
    if kind in ('AutoSlim', 'BigNAS'):
        assert len(two['choices']) == 4 * 3  # max, min, 2 random per step, 3 steps
    for key in one['state']:
        torch.testing.assert_close(two['state'][key], one['state'][key], **CLOSE, msg=key)


def test_darts_virtual_step_uses_the_global_batch_gradient(ranks, single):
    """Without the reducer each rank takes its virtual step along its own half's gradient:
    the ranks still agree (the final architecture gradient is averaged), but they no longer
    compute the unrolled update of the global batch."""
    (r0, _), _ = ranks
    one = single['DARTS-unroll']['state']
    alphas = [k for k in one if 'arch_params' in k]
    assert alphas
    local = r0['nas']['DARTS-unroll-local']['state']
    worst = max((local[k] - one[k]).abs().max().item() for k in alphas)
    assert worst > 10 * CLOSE['atol'] + CLOSE['rtol'] * max(one[k].abs().max().item() for k in alphas)
    for key in alphas:
        torch.testing.assert_close(r0['nas']['DARTS-unroll']['state'][key], one[key], **CLOSE)


def test_unused_parameters_have_no_gradient_and_no_hang(ranks, single):
    """SPOS leaves the op candidates it did not sample (and the never-used BatchNorm) without a
    gradient: the reduction keeps them ``None`` on every rank, the optimizer skips them, and the
    run neither hangs nor drifts apart (the tests above compare the weights)."""
    (r0, r1), _ = ranks
    steps = r0['nas']['SPOS']['no_grad']
    assert steps == r1['nas']['SPOS']['no_grad'] == single['SPOS']['no_grad']
    assert len(steps) == 3
    for names, choice in zip(steps, r0['nas']['SPOS']['choices']):
        unused = {'conv3x3', 'conv5x5'} - {choice['op']}
        assert {f'architecture.op._candidates.{op}.weight' for op in unused} <= set(names)
        assert 'architecture.width.bn.weight' in names
        assert not any(choice['op'] in n for n in names)


def test_a_gradient_on_one_rank_only_is_averaged_with_zeros(ranks):
    (r0, r1), _ = ranks
    for r in (r0, r1):
        grad, unused = r['nas']['one_rank_grad']
        assert torch.equal(grad, torch.full((3,), 2.0)) and unused is None


def test_darts_unrolled_through_the_runner_identical_on_both_ranks(ranks):
    (r0, r1), _ = ranks
    (s0, reducer0), (s1, reducer1) = r0['darts_runner'], r1['darts_runner']
    assert reducer0 and reducer1  # the runner's DataParallelContext handed its reduction over
    assert any('arch_params' in k for k in s0) and s0.keys() == s1.keys()
    for key in s0:
        assert torch.equal(s0[key], s1[key]), key
