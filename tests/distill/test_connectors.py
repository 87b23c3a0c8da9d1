"""Connectors: shapes, layer order, config errors, gradient behaviour."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from razor_ext.registry import MODELS


def test_conv_module_connector_conv_bn_act_and_bias_auto():
    c = MODELS.build(dict(type='ConvModuleConnector', in_channel=3, out_channel=5,
                          norm_cfg=dict(type='BN')))
    assert c.conv_module.conv.bias is None and isinstance(c.conv_module.bn, nn.BatchNorm2d)
    x = torch.randn(2, 3, 4, 4)
    c.eval()
    expected = torch.relu(c.conv_module.bn(c.conv_module.conv(x)))
    torch.testing.assert_close(c(x), expected)
    plain = MODELS.build(dict(type='ConvModuleConnector', in_channel=3, out_channel=5,
                              act_cfg=None))
    assert plain.conv_module.conv.bias is not None
    torch.testing.assert_close(plain(x), plain.conv_module.conv(x))
    pre = MODELS.build(dict(type='ConvModuleConnector', in_channel=3, out_channel=5,
                            norm_cfg=dict(type='BN'), order=('norm', 'act', 'conv')))
    assert pre.conv_module.bn.num_features == 3
    with pytest.raises(ValueError, match='norm_cfg'):
        MODELS.build(dict(type='ConvModuleConnector', in_channel=3, out_channel=5,
                          norm_cfg=dict(type='XN')))


@pytest.mark.parametrize('cfg, shape', [
    (dict(type='SingleConvConnector', in_channel=3, out_channel=6), (2, 6, 4, 4)),
    (dict(type='LinearConnector', in_channel=48, out_channel=7), (2, 7)),
    (dict(type='NormConnector', in_channels=3, norm_cfg=dict(type='GN', num_groups=3)),
     (2, 3, 4, 4)),
    (dict(type='TorchFunctionalConnector', function_name='interpolate',
          func_args=dict(scale_factor=2)), (2, 3, 8, 8)),
    (dict(type='TorchNNConnector', module_name='MaxPool2d', module_args=dict(kernel_size=2)),
     (2, 3, 2, 2)),
    (dict(type='Paraphraser', in_channel=3, out_channel=2), (2, 3, 4, 4)),
    (dict(type='Paraphraser', in_channel=3, out_channel=2, phase='train'), (2, 2, 4, 4)),
    (dict(type='Translator', in_channel=3, out_channel=2), (2, 2, 4, 4)),
])
def test_connector_shapes(cfg, shape):
    assert MODELS.build(cfg)(torch.randn(2, 3, 4, 4)).shape == shape


def test_torch_connectors_reject_unknown_names():
    with pytest.raises(ValueError, match='function_name'):
        MODELS.build(dict(type='TorchFunctionalConnector', function_name='conv2d'))
    with pytest.raises(ValueError, match='module_name'):
        MODELS.build(dict(type='TorchNNConnector', module_name='LSTM'))


def test_paraphraser_train_phase_gives_no_gradient_and_ofd_connector_detaches():
    p = MODELS.build(dict(type='Paraphraser', in_channel=3, out_channel=2, phase='train'))
    x = torch.randn(1, 3, 4, 4, requires_grad=True)
    assert not p(x).requires_grad
    c = MODELS.build(dict(type='OFDTeacherConnector'))
    with pytest.raises(RuntimeError, match='init_margin'):
        c(x)
    c.init_margin(torch.full((1, 3, 1, 1), -0.25))
    out = c(x)
    assert not out.requires_grad and torch.equal(out, torch.clamp(x.detach(), min=-0.25))
