"""QConfig: ranges, presets, overrides by name and type, and the dict form saved in checkpoints."""
from __future__ import annotations

import pytest
from torch import nn

from razor_ext.quantization.fake_quantize import FakeQuantize, LearnableFakeQuantize
from razor_ext.quantization.observers import MovingAveragePerChannelMinMaxObserver, PerChannelMinMaxObserver
from razor_ext.quantization import PRESETS, QConfig, QScheme, as_qconfig


@pytest.mark.parametrize('bits', range(2, 9))
def test_ranges_signed_unsigned_narrow(bits):
    assert QScheme(bits, signed=True).quant_range == (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    assert QScheme(bits, signed=False).quant_range == (0, 2 ** bits - 1)
    assert QScheme(bits, signed=True, narrow_range=True).quant_range[0] == -(2 ** (bits - 1)) + 1


@pytest.mark.parametrize('bits', [1, 9, 8.0])
def test_bad_bits(bits):
    with pytest.raises(ValueError, match='bits'):
        QScheme(bits)


def test_build_picks_observer_by_mode_and_kind():
    scheme = QScheme(4, per_channel=True)
    ptq, qat = scheme.build('ptq'), scheme.build('qat')
    assert isinstance(ptq.activation_post_process, PerChannelMinMaxObserver)
    assert isinstance(qat.activation_post_process, MovingAveragePerChannelMinMaxObserver)
    assert (ptq.quant_min, ptq.quant_max, ptq.ch_axis) == (-8, 7, 0)
    assert isinstance(QScheme(8, learnable=True).build('qat'), LearnableFakeQuantize)
    hist = QScheme(8, observer='HistogramObserver', observer_kwargs={'method': 'percentile'}).build('ptq')
    assert hist.activation_post_process.method == 'percentile'
    assert type(ptq) is FakeQuantize


def test_presets_and_overrides():
    assert {'int8', 'int8_per_channel', 'w4a8', 'lsq_w4a8', 'tensorrt_int8'} <= set(PRESETS)
    qc = as_qconfig({'preset': 'w4a8', 'overrides': {'backbone': 'int8', 'backbone.head': None,
                                                     nn.Linear: {'weight': {'bits': 6}}}})
    conv, lin = nn.Conv2d(1, 1, 1), nn.Linear(1, 1)
    assert qc.for_module('stem', conv).weight.bits == 4
    assert qc.for_module('backbone.conv', conv).weight.bits == 8  # prefix
    assert qc.for_module('backbone.head', conv) is None  # exact name wins
    assert qc.for_module('backbone.head.fc', lin) is None  # longer prefix wins over type
    assert qc.for_module('fc', lin).weight.bits == 6  # type
    assert qc.for_module('backbones', conv).weight.bits == 4  # not a prefix of a path component


def test_dict_round_trip_including_type_overrides():
    qc = QConfig.from_preset('w4a8', overrides={nn.Linear: None, 'fc': 'int8'})
    again = as_qconfig(qc.to_dict())
    assert again == qc


def test_bad_inputs():
    with pytest.raises(KeyError, match='presets'):
        as_qconfig('int9')
    with pytest.raises(TypeError, match='qconfig'):
        as_qconfig(8)
    with pytest.raises(TypeError, match='override'):
        QConfig(overrides={3: None})
