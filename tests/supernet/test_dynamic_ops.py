"""Dynamic ops against static torch layers holding the same active weights: values, gradients
(only the active block of the full weight gets gradient), static conversion, and errors."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from razor_ext.supernet.dynamic_ops import (DynamicBatchNorm2d, DynamicConv2d, DynamicLayerNorm,
                                            DynamicLinear, DynamicMultiheadAttention,
                                            DynamicSequential, MultiheadSelfAttention, OFAConv2d)
from razor_ext.supernet.mutables import DerivedMutable, OneShotMutableChannel, OneShotMutableValue


def _double(*modules: nn.Module) -> None:
    for m in modules:
        m.double()


@pytest.mark.parametrize('k_active', [3, 5])
@pytest.mark.parametrize('cin,cout', [(8, 16), (5, 7)])
def test_dynamic_conv_equals_sliced_static_conv_values_and_grads(cin, cout, k_active):
    torch.manual_seed(0)
    conv = DynamicConv2d(8, 16, 5, stride=1, padding=2, bias=True).double()
    conv.register_mutable_attr('in_channels', OneShotMutableChannel(8, [5, 8]))
    conv.get_mutable_attr('in_channels').current_choice = cin
    conv.register_mutable_attr('out_channels', OneShotMutableChannel(16, [7, 16]))
    conv.register_mutable_attr('kernel_size', OneShotMutableValue([3, 5]))
    conv.get_mutable_attr('out_channels').current_choice = cout
    conv.get_mutable_attr('kernel_size').current_choice = k_active
    x = torch.randn(2, cin, 9, 9, dtype=torch.float64, requires_grad=True)
    y = conv(x)
    lo = (5 - k_active) // 2
    w = conv.weight[:cout, :cin, lo:lo + k_active, lo:lo + k_active]
    want = F.conv2d(x, w, conv.bias[:cout], padding=k_active // 2)
    torch.testing.assert_close(y, want)
    g = torch.randn_like(y)
    gx, gw, gb = torch.autograd.grad(y, (x, conv.weight, conv.bias), g)
    wx, ww, wb = torch.autograd.grad(want, (x, conv.weight, conv.bias), g)
    torch.testing.assert_close(gx, wx)
    torch.testing.assert_close(gw, ww)
    torch.testing.assert_close(gb, wb)
    assert gw[cout:].abs().sum() == 0 and gw[:, cin:].abs().sum() == 0
    static = conv.to_static_op()
    assert type(static) is nn.Conv2d and static.weight.shape == (cout, cin, k_active, k_active)
    torch.testing.assert_close(static(x), y)


def test_depthwise_conv_stays_depthwise_at_every_width():
    torch.manual_seed(0)
    conv = DynamicConv2d(12, 12, 3, padding=1, groups=12, bias=False)
    conv.register_mutable_attr('in_channels', OneShotMutableChannel(12, [6, 12]))
    conv.get_mutable_attr('in_channels').current_choice = 6
    x = torch.randn(2, 6, 5, 5)
    y = conv(x)
    torch.testing.assert_close(y, F.conv2d(x, conv.weight[:6], padding=1, groups=6))
    static = conv.to_static_op()
    assert static.groups == 6 and static.weight.shape == (6, 1, 3, 3)
    torch.testing.assert_close(static(x), y)


def test_ofa_conv_transforms_kernels_and_learns_the_matrices():
    torch.manual_seed(0)
    conv = OFAConv2d(4, 4, 7, padding=3)
    ks = OneShotMutableValue([3, 5, 7])
    conv.register_mutable_attr('kernel_size', ks)
    x = torch.randn(1, 4, 8, 8)
    ks.current_choice = 3  # identity matrices: the centre crop, as BigNAS
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight[..., 2:5, 2:5], conv.bias, padding=1))
    with torch.no_grad():
        conv.trans_matrix['5to3'].mul_(2.0)
    y = conv(x)
    torch.testing.assert_close(y, F.conv2d(x, 2 * conv.weight[..., 2:5, 2:5], conv.bias, padding=1))
    y.sum().backward()
    assert conv.trans_matrix['5to3'].grad.abs().sum() > 0
    assert conv.trans_matrix['7to5'].grad.abs().sum() > 0
    torch.testing.assert_close(conv.to_static_op()(x), y)


def test_dynamic_linear_and_layer_norm():
    torch.manual_seed(0)
    fc = DynamicLinear(16, 32)
    out = OneShotMutableChannel(32, [0.5, 1.0], choice_mode='ratio')
    fc.register_mutable_attr('out_features', out)
    fc.register_mutable_attr('in_features', OneShotMutableChannel(16, [12, 16]))
    fc.get_mutable_attr('in_features').current_choice = 12
    out.current_choice = 16
    x = torch.randn(3, 5, 12, requires_grad=True)
    y = fc(x)
    torch.testing.assert_close(y, F.linear(x, fc.weight[:16, :12], fc.bias[:16]))
    y.sum().backward()
    assert fc.weight.grad[16:].abs().sum() == 0 and fc.weight.grad[:, 12:].abs().sum() == 0
    torch.testing.assert_close(fc.to_static_op()(x), y)
    ln = DynamicLayerNorm(16).register_mutable_attr('num_features', OneShotMutableValue([10, 16]))
    ln.get_mutable_attr('num_features').current_choice = 10
    with torch.no_grad():
        ln.weight.uniform_()
    z = torch.randn(2, 10)
    torch.testing.assert_close(ln(z), F.layer_norm(z, (10,), ln.weight[:10], ln.bias[:10]))
    torch.testing.assert_close(ln.to_static_op()(z), ln(z))


def test_dynamic_batch_norm_trains_only_the_active_running_stats():
    torch.manual_seed(0)
    bn, ref = DynamicBatchNorm2d(8, momentum=None), nn.BatchNorm2d(5, momentum=None)
    bn.register_mutable_attr('num_features', OneShotMutableValue([5, 8]))
    bn.get_mutable_attr('num_features').current_choice = 5
    for _ in range(3):
        x = torch.randn(4, 5, 3, 3) * 3 + 1
        torch.testing.assert_close(bn(x), ref(x))
    torch.testing.assert_close(bn.running_mean[:5], ref.running_mean)
    torch.testing.assert_close(bn.running_var[:5], ref.running_var)
    assert bn.running_mean[5:].eq(0).all() and bn.running_var[5:].eq(1).all()
    bn.eval(), ref.eval()
    x = torch.randn(2, 5, 3, 3)
    torch.testing.assert_close(bn(x), ref(x))
    static = bn.to_static_op().eval()
    torch.testing.assert_close(static(x), ref(x))
    assert int(static.num_batches_tracked) == 3


def test_dynamic_sequential_depth():
    torch.manual_seed(0)
    blocks = [nn.Linear(4, 4) for _ in range(3)]
    seq = DynamicSequential(*blocks)
    depth = OneShotMutableValue([1, 2, 3])
    seq.register_mutable_attr('depth', depth)
    depth.current_choice = 2
    x = torch.randn(2, 4)
    torch.testing.assert_close(seq(x), blocks[1](blocks[0](x)))
    assert len(seq) == 3 and seq[2] is blocks[2]
    static = seq.to_static_op()
    assert type(static) is nn.Sequential and len(static) == 2


def test_dynamic_attention_equals_the_static_attention_of_the_active_size():
    torch.manual_seed(0)
    mha = DynamicMultiheadAttention(16, 4, 4)
    heads = OneShotMutableValue([2, 3, 4])
    mha.register_mutable_attr('num_heads', heads)
    mha.register_mutable_attr('embed_dims', OneShotMutableValue([12, 16]))
    mha.get_mutable_attr('embed_dims').current_choice = 12
    heads.current_choice = 3
    x = torch.randn(2, 5, 12, requires_grad=True)
    y = mha(x)
    static = mha.to_static_op()
    assert type(static) is MultiheadSelfAttention and static.num_heads == 3
    torch.testing.assert_close(static(x), y)
    y.sum().backward()
    assert mha.w_qs.weight.grad[12:].abs().sum() == 0
    assert mha.proj.weight.grad[12:].abs().sum() == 0 and mha.proj.weight.grad[:, 12:].abs().sum() == 0


def test_mutable_channel_and_derived_values():
    ch = OneShotMutableChannel(10, [0.3, 0.5, 1.0], choice_mode='ratio')
    assert ch.choices == [3, 5, 10] and ch.max_choice == 10 and ch.min_choice == 3
    ch.current_choice = 5
    assert ch.current_mask.tolist() == [True] * 5 + [False] * 5
    other = OneShotMutableValue([2, 4])
    cat = DerivedMutable.concat(ch, other)
    assert cat.current_choice == 9
    assert (cat * 2).current_choice == 18 and (cat // 2).current_choice == 4
    other.current_choice = 2
    assert cat.current_choice == 7
    with pytest.raises(ValueError, match=r'choice 4 is not one of \[3, 5, 10\]'):
        ch.current_choice = 4
    with pytest.raises(ValueError, match='ratio choices'):
        OneShotMutableChannel(10, [0.0, 1.0], choice_mode='ratio')
    with pytest.raises(ValueError, match='choice_mode'):
        OneShotMutableChannel(10, [5], choice_mode='percent')


def test_dynamic_op_errors_name_the_problem():
    conv = DynamicConv2d(4, 8, 3, padding=1)
    with pytest.raises(ValueError, match="no elastic attribute 'depth'"):
        conv.register_mutable_attr('depth', OneShotMutableValue([1, 2]))
    with pytest.raises(ValueError, match=r'out_channels: choice 16 must be an int in \[1, 8\]'):
        conv.register_mutable_attr('out_channels', OneShotMutableValue([4, 16]))
    with pytest.raises(ValueError, match='must be odd'):
        conv.register_mutable_attr('kernel_size', OneShotMutableValue([2, 3]))
    with pytest.raises(TypeError, match='BaseMutable or DerivedMutable'):
        conv.register_mutable_attr('out_channels', 4)
    conv.register_mutable_attr('in_channels', OneShotMutableChannel(4, [2, 4]))
    with pytest.raises(ValueError, match='chose 4 but the input has 3 channels'):
        conv(torch.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match='groups=2'):
        DynamicConv2d(4, 8, 3, groups=2).register_mutable_attr('out_channels', OneShotMutableValue([4]))
