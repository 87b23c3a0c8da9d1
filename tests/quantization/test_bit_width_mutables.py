"""Bit widths as mutables: ``BitWidthFakeQuantize`` follows its ``OneShotMutableValue``, the
attachment works on dynamic-op supernets, and chosen widths round-trip through subnet files."""
from __future__ import annotations

import copy

import pytest
import torch
import yaml
from torch import nn

from razor_ext.architectures import SearchableSlimNet
from razor_ext.quantization.mixed_precision import (BitWidthFakeQuantize, attach_bit_widths,
                                                    bit_width_layers, bit_width_qconfig,
                                                    detach_bit_widths)
from razor_ext.supernet import NasMutator, export_fix_subnet


def test_weight_quant_follows_the_mutable_and_matches_torch_reference():
    torch.manual_seed(0)
    fq = BitWidthFakeQuantize((4, 8, 16), 'weight', alias='w')
    w = torch.randn(6, 3, 3, 3)
    for bits in (4, 8):
        fq.bits.current_choice = bits
        out = fq(w)
        qmax = 2 ** (bits - 1) - 1
        # symmetric per channel: scale = max|w| / ((qmax - qmin) / 2), zero point 0
        scale = w.abs().amax((1, 2, 3)) / ((2 * qmax + 1) / 2)
        ref = torch.fake_quantize_per_channel_affine(w, scale, torch.zeros(6, dtype=torch.int32), 0,
                                                     -qmax - 1, qmax)
        torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)
        assert max(len(torch.unique(out[c])) for c in range(6)) <= 2 ** bits
    fq.bits.current_choice = 16
    assert torch.equal(fq(w), w)


def test_every_width_observes_so_any_can_be_chosen_later():
    fq = BitWidthFakeQuantize((4, 8, 16), 'activation')
    fq.bits.current_choice = 16
    fq(torch.rand(4, 3, 5, 5))  # float forward: the 4 and 8 bit observers still see the data
    fq.bits.current_choice = 4
    assert len(torch.unique(fq(torch.rand(2, 3, 5, 5)))) <= 16


@pytest.mark.parametrize('bits', [(1, 8), (8, 12), ()])
def test_bad_bit_choices_raise(bits):
    with pytest.raises(ValueError, match='bit choices'):
        BitWidthFakeQuantize(bits)


def test_kind_must_be_weight_or_activation():
    with pytest.raises(ValueError, match='kind'):
        BitWidthFakeQuantize((8,), 'bias')


def test_attach_to_dynamic_supernet_trains_and_detaches():
    torch.manual_seed(0)
    net = SearchableSlimNet(stem_channels=4, widths=((4, 8), (8, 16)), strides=(2, 2))
    layers = attach_bit_widths(net, skip=['head'])
    assert 'head' not in layers and 'stem.0' in layers
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    groups = mutator.search_groups
    assert {'stem.0.weight_bits', 'stem.0.act_bits', 'blocks.0.op', 'blocks.0.width'} <= set(groups)
    mutator.set_choices({**mutator.min_choices})
    net(torch.randn(2, 1, 16, 16)).sum().backward()  # straight-through gradient to the weights
    conv = net.blocks[1]._candidates[mutator.current_choices['blocks.1.op']][0]
    assert conv.parametrizations.weight.original.grad.abs().sum() > 0
    # a deep copy detaches alone: the original keeps its quantized weight property
    clone = copy.deepcopy(net)
    detach_bit_widths(clone)
    assert not bit_width_layers(clone) and isinstance(clone.stem[0].weight, nn.Parameter)
    assert bit_width_layers(net) and net(torch.randn(1, 1, 16, 16)).shape == (1, 10)


def test_attach_without_layers_raises():
    with pytest.raises(ValueError, match='no'):
        attach_bit_widths(nn.Sequential(nn.ReLU()))


def test_bit_widths_round_trip_through_subnet_files(tmp_path):
    def build():
        net = SearchableSlimNet(stem_channels=4, widths=((4, 8), (8, 16)), strides=(2, 2))
        attach_bit_widths(net)
        mutator = NasMutator()
        mutator.prepare_from_supernet(net)
        return net, mutator

    net, mutator = build()
    torch.manual_seed(1)
    import random
    random.seed(3)
    chosen = mutator.sample_choices()
    mutator.set_choices(chosen)
    for suffix in ('yaml', 'json'):
        path = tmp_path / f'subnet.{suffix}'
        export_fix_subnet(net, path=path)
        data = yaml.safe_load(path.read_text())  # JSON is YAML too
        assert data['stem.0.weight_bits']['meta']['all_choices'] == [4, 8, 16]
        fresh, fresh_mutator = build()
        fresh_mutator.set_choices({g: data[g]['chosen'] for g in fresh_mutator.search_groups})
        assert fresh_mutator.current_choices == chosen


def test_qconfig_of_the_static_subnet_carries_the_chosen_widths():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.Flatten(),
                        nn.Linear(4 * 4 * 4, 2))
    layers = attach_bit_widths(net)
    layers['0'][0].bits.current_choice = 4
    layers['0'][1].bits.current_choice = 8
    layers['2'][0].bits.current_choice = 16
    layers['2'][1].bits.current_choice = 16
    layers['4'][0].bits.current_choice = 8
    static = copy.deepcopy(net)
    detach_bit_widths(static)
    qc = bit_width_qconfig(net, static, torch.randn(1, 1, 8, 8))
    assert qc.for_module('0', static[0]).weight.bits == 4
    assert qc.for_module('0', static[0]).activation.bits == 8
    assert qc.for_module('2', static[2]) is None  # 16/16: float
    assert qc.for_module('4', static[4]).weight.bits == 8
    assert qc.for_module('4', static[4]).activation is None
    with pytest.raises(ValueError, match='not the same subnet'):
        bit_width_qconfig(net, nn.Sequential(nn.Flatten(), nn.Linear(64, 2)), torch.randn(1, 1, 8, 8))
