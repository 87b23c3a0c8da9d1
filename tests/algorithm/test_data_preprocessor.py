"""Tests for razor_ext.algorithm."""
from __future__ import annotations

from collections import namedtuple
from typing import Any

import pytest
import torch
from torch import nn

from razor_ext.algorithm import BaseAlgorithm
from razor_ext.algorithm import BaseDataPreprocessor, ImgDataPreprocessor
from razor_ext.registry import MODELS

META = torch.device('meta')  # a second device that exists without a GPU


def test_dict_and_tuple_forms_give_the_dict_form() -> None:
    pre = BaseDataPreprocessor()
    x, y = torch.ones(2, 3), torch.tensor([0, 1])
    for data in ({'inputs': x, 'data_samples': y}, (x, y), [x, y]):
        out = pre(data)
        assert set(out) == {'inputs', 'data_samples'}
        assert torch.equal(out['inputs'], x) and torch.equal(out['data_samples'], y)
    assert pre({'inputs': x})['data_samples'] is None


@pytest.mark.parametrize('bad', [torch.ones(2), 3, 'x', (1,), (1, 2, 3)])
def test_bad_data_is_type_error(bad: Any) -> None:
    with pytest.raises(TypeError, match=r'\(inputs, targets\)'):
        BaseDataPreprocessor()(bad)


def test_dict_without_inputs_or_with_extra_keys() -> None:
    with pytest.raises(KeyError, match="'inputs'"):
        BaseDataPreprocessor()({'data_samples': 1})
    with pytest.raises(KeyError, match="'labels'"):
        BaseDataPreprocessor()({'inputs': 1, 'labels': 2})


def test_moves_nested_tensors_to_device() -> None:
    Pair = namedtuple('Pair', 'a b')
    data = {'inputs': {'img': torch.ones(1, 3), 'extra': [torch.zeros(2)]},
            'data_samples': Pair(torch.tensor([1]), 'meta-info')}
    out = BaseDataPreprocessor()(data, device=META)
    assert out['inputs']['img'].device == META and out['inputs']['extra'][0].device == META
    assert isinstance(out['data_samples'], Pair)
    assert out['data_samples'].a.device == META and out['data_samples'].b == 'meta-info'
    assert data['inputs']['img'].device.type == 'cpu'  # the input batch is not modified


def test_objects_with_to_are_moved() -> None:
    class Sample:
        def __init__(self) -> None:
            self.moved_to: torch.device | None = None

        def to(self, device: torch.device) -> 'Sample':
            self.moved_to = device
            return self

    out = BaseDataPreprocessor()((torch.ones(1), Sample()), device=META)
    assert out['data_samples'].moved_to == META


def test_normalisation_values() -> None:
    pre = ImgDataPreprocessor(mean=[1.0, 2.0, 3.0], std=[1.0, 2.0, 4.0])
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    expected = (x - torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)) / torch.tensor(
        [1.0, 2.0, 4.0]).view(1, 3, 1, 1)
    torch.testing.assert_close(pre((x, None))['inputs'], expected)
    # the channel is dim 1 also for (N, C) and (N, C, L) inputs
    torch.testing.assert_close(pre({'inputs': torch.tensor([[1.0, 4.0, 7.0]])})['inputs'],
                               torch.tensor([[0.0, 1.0, 1.0]]))
    torch.testing.assert_close(pre({'inputs': torch.full((1, 3, 5), 3.0)})['inputs'][0, :, 0],
                               torch.tensor([2.0, 0.5, 0.0]))


def test_single_value_mean_std_broadcasts() -> None:
    out = ImgDataPreprocessor(mean=[0.5], std=[0.5])({'inputs': torch.ones(2, 4, 3, 3)})
    assert torch.equal(out['inputs'], torch.ones(2, 4, 3, 3))


def test_uint8_cast_then_normalised_and_dtype_kept_for_floats() -> None:
    img = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    pre = ImgDataPreprocessor(mean=[127.5] * 3, std=[127.5] * 3)
    out = pre((img, None))['inputs']
    assert out.dtype == torch.float32 and torch.equal(out, torch.ones(1, 3, 2, 2))
    half = pre((img.to(torch.float64), None))['inputs']
    assert half.dtype == torch.float64
    assert ImgDataPreprocessor()((img, None))['inputs'].dtype == torch.float32


def test_integer_non_image_inputs_are_left_alone() -> None:
    tokens = torch.tensor([[1, 2, 3]])
    out = ImgDataPreprocessor(mean=[1.0], std=[2.0])((tokens, None))['inputs']
    assert torch.equal(out, tokens)


def test_list_of_images_is_stacked() -> None:
    out = ImgDataPreprocessor(mean=[1.0], std=[1.0])(([torch.ones(1, 2, 2)] * 3, None))
    assert out['inputs'].shape == (3, 1, 2, 2) and bool((out['inputs'] == 0).all())
    with pytest.raises(ValueError, match='different shapes'):
        ImgDataPreprocessor()(([torch.ones(1, 2, 2), torch.ones(1, 3, 3)], None))


def test_channel_count_mismatch_is_a_clear_error() -> None:
    pre = ImgDataPreprocessor(mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r'3 values but inputs have 4 channels'):
        pre({'inputs': torch.ones(2, 4, 5, 5)})
    with pytest.raises(ValueError, match='channel dim'):
        pre({'inputs': torch.ones(3)})
    with pytest.raises(TypeError, match='tensor'):
        pre({'inputs': 'not an image'})


@pytest.mark.parametrize('kwargs, match', [
    (dict(mean=[0.0]), 'together'),
    (dict(std=[1.0]), 'together'),
    (dict(mean=[0.0, 0.0], std=[1.0]), '2 values but std has 1'),
    (dict(mean=[0.0], std=[0.0]), 'non-zero'),
    (dict(mean=[], std=[]), 'non-empty'),
    (dict(mean=[[0.0]], std=[[1.0]]), 'per-channel'),
])
def test_bad_mean_std(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ImgDataPreprocessor(**kwargs)


def test_mean_std_are_buffers_outside_the_state_dict() -> None:
    pre = ImgDataPreprocessor(mean=[1.0], std=[2.0])
    assert {n for n, _ in pre.named_buffers()} == {'mean', 'std'}
    assert pre.state_dict() == {}


def test_registered_and_built_from_config() -> None:
    pre = MODELS.build(dict(type='ImgDataPreprocessor', mean=[0.0], std=[1.0]))
    assert isinstance(pre, ImgDataPreprocessor)
    assert isinstance(MODELS.build(dict(type='BaseDataPreprocessor')), BaseDataPreprocessor)


# ---------------------------------------------------------------------------- with an algorithm
def test_algorithm_moves_batches_to_its_device() -> None:
    algo = BaseAlgorithm(nn.Linear(3, 2), data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[1.0, 1.0, 1.0], std=[2.0, 2.0, 2.0]))
    assert algo.device.type == 'cpu'
    algo.to(META)
    out = algo._preprocess((torch.ones(4, 3), torch.zeros(4, dtype=torch.long)),
                           training=False)
    assert out['inputs'].device == META and out['data_samples'].device == META
    assert algo.val_step((torch.ones(4, 3), None)).device == META


def test_algorithm_device_falls_back_to_buffers_then_cpu() -> None:
    assert BaseAlgorithm(nn.Identity()).device == torch.device('cpu')
    bn = nn.BatchNorm1d(3, affine=False).to(META)  # buffers only
    assert BaseAlgorithm(bn).device == META


def test_algorithm_normalises_before_the_architecture() -> None:
    seen: list[torch.Tensor] = []

    class Probe(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x)
            return x

    algo = BaseAlgorithm(Probe(), data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[10.0, 20.0], std=[10.0, 10.0]))
    algo.test_step({'inputs': torch.tensor([[20.0, 20.0]])})
    assert torch.equal(seen[0], torch.tensor([[1.0, 0.0]]))


def test_foreign_preprocessor_gets_mmengine_call_and_output_is_checked() -> None:
    calls: list[tuple[Any, bool]] = []

    class Foreign(nn.Module):
        def forward(self, data: dict[str, Any], training: bool = False) -> Any:
            calls.append((data, training))
            return {'inputs': data['inputs'] * 2, 'data_samples': data.get('data_samples')}

    algo = BaseAlgorithm(nn.Identity(), data_preprocessor=Foreign())
    out = algo.test_step({'inputs': torch.ones(1, 2)})
    assert calls[-1][1] is False and torch.equal(out, torch.tensor([0]))

    class Broken(nn.Module):
        def forward(self, data: Any, training: bool = False) -> Any:
            return data['inputs']

    with pytest.raises(TypeError, match="Broken must return a dict with 'inputs'"):
        BaseAlgorithm(nn.Identity(), data_preprocessor=Broken()).test_step(
            {'inputs': torch.ones(1)})


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_algorithm_on_cuda_moves_and_normalises() -> None:
    algo = BaseAlgorithm(nn.Linear(3, 2), data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[0.5] * 3, std=[0.5] * 3)).cuda()
    x = torch.full((4, 3), 255, dtype=torch.uint8)
    y = torch.zeros(4, dtype=torch.long)
    log = algo.train_step((x, y), torch.optim.SGD(algo.parameters(), lr=0.1))
    assert isinstance(log['loss'], float)
    out = algo._preprocess((x, y), training=True)
    assert out['inputs'].is_cuda and out['data_samples'].is_cuda
    assert torch.equal(out['inputs'].cpu(), torch.full((4, 3), 509.0))
