"""Observer maths against hand-computed cases, and the errors that name the observed module."""
from __future__ import annotations

import pytest
import torch

from razor_ext.quantization.observers import (HistogramObserver, LSQObserver, MinMaxObserver,
                                              MovingAverageMinMaxObserver,
                                              MovingAveragePerChannelMinMaxObserver, ObserverError,
                                              PerChannelMinMaxObserver)
from razor_ext.registry import MODELS


def test_minmax_affine_uint8_by_hand():
    obs = MinMaxObserver(quant_min=0, quant_max=255, symmetric=False)
    obs(torch.tensor([-1.0, 0.5]))
    obs(torch.tensor([3.0, 2.0]))
    scale, zp = obs.calculate_qparams()
    # range [-1, 3] over 255 steps; zero point 0 - round(-1 / (4/255)) = round(63.75) = 64
    assert scale.item() == pytest.approx(4 / 255)
    assert zp.item() == 64


def test_minmax_range_always_holds_zero():
    obs = MinMaxObserver(quant_min=0, quant_max=255)
    obs(torch.tensor([2.0, 5.1]))
    scale, zp = obs.calculate_qparams()
    assert scale.item() == pytest.approx(5.1 / 255) and zp.item() == 0


def test_minmax_symmetric_signed_and_unsigned():
    obs = MinMaxObserver(quant_min=-128, quant_max=127, symmetric=True)
    obs(torch.tensor([-2.0, 1.0]))
    scale, zp = obs.calculate_qparams()
    assert scale.item() == pytest.approx(2.0 / 127.5) and zp.item() == 0
    obs_u = MinMaxObserver(quant_min=0, quant_max=255, symmetric=True)
    obs_u(torch.tensor([-2.0, 1.0]))
    assert obs_u.calculate_qparams()[1].item() == 128


def test_moving_average_by_hand():
    obs = MovingAverageMinMaxObserver(averaging_constant=0.25)
    obs(torch.tensor([-4.0, 4.0]))
    obs(torch.tensor([0.0, 8.0]))
    assert obs.min_val.item() == pytest.approx(-3.0)  # -4 + 0.25 * (0 - -4)
    assert obs.max_val.item() == pytest.approx(5.0)  # 4 + 0.25 * (8 - 4)


def test_per_channel_by_hand():
    obs = PerChannelMinMaxObserver(quant_min=-8, quant_max=7, symmetric=True)
    w = torch.tensor([[[1.0, -3.75]], [[0.5, 0.25]], [[0.0, 0.0]]])
    obs(w)
    scale, zp = obs.calculate_qparams()
    assert scale.tolist() == pytest.approx([3.75 / 7.5, 0.5 / 7.5, torch.finfo(torch.float32).eps])
    assert zp.tolist() == [0, 0, 0]
    ma = MovingAveragePerChannelMinMaxObserver(averaging_constant=0.5, ch_axis=1)
    ma(torch.tensor([[0.0, 2.0], [0.0, 2.0]]))
    ma(torch.tensor([[4.0, 2.0], [0.0, 2.0]]))
    assert ma.max_val.tolist() == [2.0, 2.0]


def test_histogram_percentile_and_mse():
    x = torch.cat([torch.linspace(-1, 1, 10000), torch.tensor([50.0])])  # one outlier
    pct = HistogramObserver(method='percentile', percentile=99.9, quant_min=-128, quant_max=127,
                            symmetric=True)
    pct(x)
    lo, hi = pct.clip_range()
    assert hi < 1.1 and lo < -0.9  # the outlier is clipped, the bulk kept
    mse = HistogramObserver(method='mse', quant_min=0, quant_max=255)
    mse(x)
    lo, hi = mse.clip_range()
    assert hi < 50.0 and hi >= 1.0  # clipping the single outlier lowers the squared error
    mm = MinMaxObserver()
    mm(x)
    assert mse.calculate_qparams()[0] < mm.calculate_qparams()[0]


def test_histogram_rebins_when_range_grows():
    obs = HistogramObserver(bins=100, method='percentile', percentile=100.0)
    obs(torch.linspace(0, 1, 1000))
    obs(torch.linspace(0, 10, 1000))
    assert obs.histogram.sum().item() == 2000
    assert obs.clip_range()[1] == pytest.approx(10.0)


def test_lsq_initialisation_by_hand():
    obs = LSQObserver(quant_min=0, quant_max=255, symmetric=False)
    obs(torch.tensor([-1.0, 3.0]))
    scale, zp = obs.calculate_qparams()
    assert scale.item() == pytest.approx(2 * 2.0 / 255 ** 0.5)
    assert zp.item() == round(1 / scale.item())


@pytest.mark.parametrize('cls', [MinMaxObserver, MovingAverageMinMaxObserver, HistogramObserver,
                                 LSQObserver])
def test_nan_inf_and_no_data_raise_naming_the_module(cls):
    obs = cls()
    obs.module_name = 'backbone.conv1'
    with pytest.raises(ObserverError, match='backbone.conv1'):
        obs.calculate_qparams()  # no data yet
    with pytest.raises(ObserverError, match='backbone.conv1'):
        obs(torch.tensor([0.0, float('inf')]))
        obs.calculate_qparams()


def test_lsq_zero_data_raises_naming_the_module():
    obs = LSQObserver()
    obs.module_name = 'head.fc'
    obs(torch.zeros(4))
    with pytest.raises(ObserverError, match='head.fc'):
        obs.calculate_qparams()


def test_bad_arguments():
    with pytest.raises(ValueError, match='quant_min'):
        MinMaxObserver(quant_min=5, quant_max=5)
    with pytest.raises(ValueError, match='averaging_constant'):
        MovingAverageMinMaxObserver(averaging_constant=0.0)
    with pytest.raises(ValueError, match='method'):
        HistogramObserver(method='kl')


def test_built_from_config():
    obs = MODELS.build(dict(type='HistogramObserver', method='percentile', bins=64))
    assert isinstance(obs, HistogramObserver) and obs.bins == 64
