"""load_weights: one loader for every checkpoint key; prefixes and mask parametrizations are
fitted, pruned checkpoints replay their shapes, and a mismatch is one line naming the keys."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import razor_ext
from razor_ext.algorithm import BaseAlgorithm, WeightsMismatchError, load_weights
from razor_ext.architectures import MnistCNN
from razor_ext.fileio import save_checkpoint


def net(width: int = 4) -> nn.Module:
    torch.manual_seed(width)
    return MnistCNN(width=width)


def same(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize('prefix', ['', 'architecture.', 'student.', 'teacher.', 'module.'])
def test_a_prefixed_checkpoint_loads_into_the_bare_network(tmp_path: Path, prefix: str) -> None:
    src = net()
    path = save_checkpoint({'state_dict': {prefix + k: v for k, v in src.state_dict().items()}},
                           tmp_path / 'c.pth')
    assert same(load_weights(MnistCNN(width=4), path), src)


def test_a_bare_checkpoint_loads_into_an_algorithm_and_back(tmp_path: Path) -> None:
    src = net()
    algo = load_weights(BaseAlgorithm(MnistCNN(width=4)), {'state_dict': src.state_dict()})
    assert same(algo.architecture, src)
    assert same(load_weights(MnistCNN(width=4), {'state_dict': algo.state_dict()}), src)


def test_the_prefix_can_be_chosen(tmp_path: Path) -> None:
    # Same shapes under both prefixes: the choice, not the fit, decides which weights come in.
    s, t4 = net(4), net(4)
    with torch.no_grad():
        for p in t4.parameters():
            p.add_(1)
    both = {**{'architecture.' + k: v for k, v in s.state_dict().items()},
            **{'teacher.' + k: v for k, v in t4.state_dict().items()}}
    assert same(load_weights(MnistCNN(width=4), both, prefix='teacher.'), t4)
    assert same(load_weights(MnistCNN(width=4), both, prefix='architecture.'), s)


def test_masked_pruning_model_takes_a_plain_checkpoint() -> None:
    from razor_ext.pruning import ItePruneAlgorithm

    src = net()
    algo = ItePruneAlgorithm(MnistCNN(width=4), example_inputs=torch.randn(1, 1, 28, 28))
    load_weights(algo, {'state_dict': src.state_dict()})
    assert same(algo.to_static(), src)


def test_a_missing_key_is_one_line_naming_it() -> None:
    state = net().state_dict()
    del state['head.bias']
    with pytest.raises(WeightsMismatchError) as info:
        load_weights(MnistCNN(width=4), {'state_dict': state})
    assert '\n' not in str(info.value) and 'missing keys: head.bias' in str(info.value)


def test_an_unexpected_key_is_named_and_strict_false_ignores_it() -> None:
    state = {**net().state_dict(), 'extra.weight': torch.ones(1)}
    with pytest.raises(WeightsMismatchError, match='unexpected keys: extra.weight'):
        load_weights(MnistCNN(width=4), {'state_dict': state})
    load_weights(MnistCNN(width=4), {'state_dict': state}, strict=False)


def test_the_wrong_architecture_is_one_line_naming_the_shapes(tmp_path: Path) -> None:
    path = save_checkpoint({'state_dict': net(8).state_dict()}, tmp_path / 'wide.pth')
    with pytest.raises(WeightsMismatchError) as info:
        load_weights(MnistCNN(width=4), path)
    message = str(info.value)
    assert '\n' not in message and 'wide.pth' in message and 'MnistCNN' in message
    assert 'features.0.0.weight checkpoint (8, 1, 3, 3) vs model (4, 1, 3, 3)' in message
    with pytest.raises(WeightsMismatchError, match='missing keys: .*unexpected keys'):
        load_weights(nn.Sequential(nn.Linear(2, 2)), path)


def test_a_pruned_checkpoint_replays_its_shapes_wherever_it_is_loaded(tmp_path: Path) -> None:
    from razor_ext.pruning import save_pruned

    pruned = razor_ext.prune(net(8), torch.randn(1, 1, 28, 28), ratio=0.5)
    save_pruned(pruned, tmp_path / 'pruned.pth')
    fresh = load_weights(MnistCNN(width=8), tmp_path / 'pruned.pth')
    assert same(fresh, pruned)
    algo = load_weights(BaseAlgorithm(MnistCNN(width=8)), tmp_path / 'pruned.pth')
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(algo.architecture.eval()(x), pruned.eval()(x))


def test_init_cfg_pretrained_and_teacher_ckpt_and_float_checkpoint_use_it(tmp_path: Path) -> None:
    from razor_ext.registry import MODELS

    src = net(8)
    path = save_checkpoint({'meta': {}, 'state_dict': {'architecture.' + k: v for k, v in src.state_dict().items()}},
                           tmp_path / 'best.pth')
    algo = BaseAlgorithm(dict(type='MnistCNN', width=8), init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    algo.init_weights()
    assert same(algo.architecture, src)
    distill = MODELS.build(dict(
        type='SingleTeacherDistill', architecture=dict(type='MnistCNN', width=4),
        teacher=dict(type='MnistCNN', width=8), teacher_ckpt=str(path),
        distiller=dict(type='ConfigurableDistiller')))
    assert same(distill.teacher, src)
    with pytest.raises(WeightsMismatchError, match='does not fit MnistCNN'):
        MODELS.build(dict(type='MMArchitectureQuant', architecture=dict(type='MnistCNN', width=4),
                          input_shapes=(1, 1, 28, 28), float_checkpoint=str(path)))
