"""The ops skip torch's Python autograd layer only when that layer would record nothing: these
tests pin every case where it must still run (grad needed, functorch, torch.compile) and check
that the results of the short path equal the full path's; dual tensors (forward-mode AD) are
refused on both."""
from __future__ import annotations

import pytest
import torch
from torch.autograd import forward_ad

from razor_ext.ops import (channel_gather, channel_norms, cwd_loss, dkd_loss, dynamic_conv2d,
                           dynamic_linear, fake_quantize, fused_observe_fake_quantize, kd_kl_div,
                           lsq_fake_quantize, weight_only_linear)
from razor_ext.ops.below_autograd import autograd_may_record, call_op


def test_plain_tensors_take_the_short_path():
    tensors = [torch.randn(4, 3), torch.randn(4)]
    assert not autograd_may_record(tensors, torch.tensor([0]))


def test_a_tensor_that_requires_grad_keeps_the_layer():
    tensors = [torch.randn(4, 3), torch.randn(4, requires_grad=True)]
    assert autograd_may_record(tensors, torch.tensor([0]))


def test_no_grad_and_inference_mode_take_the_short_path():
    tensors = [torch.randn(4, requires_grad=True)]
    with torch.no_grad():
        assert not autograd_may_record(tensors)
    with torch.inference_mode():
        assert not autograd_may_record(tensors)


def test_short_path_results_equal_the_full_path():
    torch.manual_seed(0)
    tensors, index = [torch.randn(6, 5, 3), torch.randn(2, 6)], torch.tensor([5, 0, 3])
    short = call_op(torch.ops.razor_ext.channel_gather, tensors, index, [0, 1])
    full = torch.ops.razor_ext.channel_gather(tensors, index, [0, 1])
    for s, f in zip(short, full):
        assert torch.equal(s, f)
    assert torch.equal(call_op(torch.ops.razor_ext.channel_norms, tensors, [0, 1], 2),
                       torch.ops.razor_ext.channel_norms(tensors, [0, 1], 2))


def test_outputs_under_no_grad_carry_no_graph():
    x = torch.randn(4, 3, requires_grad=True)
    with torch.no_grad():
        (out,) = channel_gather([x], torch.tensor([1, 2]), [0])
        norms = channel_norms([x], [0], 1)
    assert not out.requires_grad and out.grad_fn is None
    assert not norms.requires_grad and norms.grad_fn is None


def test_inference_mode_outputs_are_inference_tensors():
    x = torch.randn(4, 3)
    with torch.inference_mode():
        (out,) = channel_gather([x], torch.tensor([1, 3]), [0])
    assert out.is_inference() and torch.equal(out, x[[1, 3]])


def test_functorch_grad_keeps_the_layer():
    seen = []

    def f(t: torch.Tensor) -> torch.Tensor:
        seen.append(autograd_may_record([t.detach()]))  # even a tensor that needs no grad
        return t.sum()

    torch.func.grad(f)(torch.randn(3))
    assert seen == [True]


def test_functorch_grad_through_an_op_is_refused_not_silently_wrong():
    # torch's register_autograd layer does not support functorch for tensor-list ops; what
    # matters here is that the short path never turns that refusal into a zero gradient.
    def f(t: torch.Tensor) -> torch.Tensor:
        return channel_gather([t], torch.tensor([1]), [0])[0].sum()

    with pytest.raises(RuntimeError, match="functorch"):
        torch.func.grad(f)(torch.randn(3, 2))


def test_vmap_is_refused_not_silently_wrong():
    def f(t: torch.Tensor) -> torch.Tensor:
        return channel_gather([t], torch.tensor([1]), [0])[0]

    with pytest.raises(RuntimeError, match="[Bb]atching rule"):
        torch.func.vmap(f)(torch.randn(4, 3, 2))


def test_compiled_backward_keeps_the_layer():
    x = torch.randn(6, 3, requires_grad=True)
    index = torch.tensor([0, 5, 5])

    @torch.compile(fullgraph=True)
    def f(t: torch.Tensor) -> torch.Tensor:
        return channel_gather([t], index, [0])[0].sum()

    f(x).backward()
    expected = torch.zeros(6, 3)
    expected[0], expected[5] = 1.0, 2.0
    torch.testing.assert_close(x.grad, expected)


FORWARD_AD_CALLS = {
    "channel_gather": lambda d: channel_gather([d], torch.tensor([1, 0]), [0])[0],
    "channel_norms": lambda d: channel_norms([d], [0], 1),
    "kd_kl_div": lambda d: kd_kl_div(d, torch.randn(4, 6)),
    "fake_quantize": lambda d: fake_quantize(d, torch.tensor(0.1), torch.tensor(0), -128, 127),
    "dynamic_linear": lambda d: dynamic_linear(d, torch.randn(6, 8), None, 4),
    "lsq_fake_quantize": lambda d: lsq_fake_quantize(d, torch.tensor([0.1]), torch.tensor([0.0]),
                                                     -128, 127),
    "fused_observe_fake_quantize": lambda d: fused_observe_fake_quantize(
        d, torch.tensor([-1.0]), torch.tensor([1.0]), torch.tensor([0.1]),
        torch.tensor([0], dtype=torch.int32), -128, 127),
    "cwd_loss": lambda d: cwd_loss(d.view(1, 4, 2, 3), torch.randn(1, 4, 2, 3)),
    "dkd_loss": lambda d: dkd_loss(d, torch.randn(4, 6), torch.tensor([0, 1, 2, 3])),
    "dynamic_conv2d": lambda d: dynamic_conv2d(d.view(1, 4, 2, 3), torch.randn(8, 8, 3, 3), None, 4,
                                               padding=1),
    "weight_only_linear": lambda d: weight_only_linear(
        d, torch.zeros(2, 3, dtype=torch.uint8), torch.ones(2, 3), torch.zeros(2, 3, dtype=torch.uint8),
        2, 4),
    "dynamic_conv2d (op)": lambda d: torch.ops.razor_ext.dynamic_conv2d(
        d.view(1, 4, 2, 3), torch.randn(8, 8, 3, 3), None, 4, [1, 1], [1, 1], [1, 1], 1, None,
        "auto"),
}


def test_forward_mode_ad_cases_cover_every_public_op():
    # The README says every op refuses dual tensors: a new op must get a case here.
    import razor_ext.ops as ops

    public = {name for name in ops.__all__ if callable(getattr(ops, name))} - {"reference"}
    assert public <= {name.split(" ")[0] for name in FORWARD_AD_CALLS}, public


@pytest.mark.parametrize("name", list(FORWARD_AD_CALLS))
def test_forward_mode_ad_is_refused_not_a_dropped_tangent(name):
    # torch's register_autograd layer passes dual tensors through and drops their tangents (a
    # silent zero JVP); the ops refuse them instead, on the short path and the full one.
    with forward_ad.dual_level():
        dual = forward_ad.make_dual(torch.randn(4, 6), torch.ones(4, 6))
        with pytest.raises(RuntimeError, match="forward-mode AD"):
            FORWARD_AD_CALLS[name](dual)
        # Plain tensors inside a dual level still run.
        assert FORWARD_AD_CALLS[name](torch.randn(4, 6)).numel() > 0
