"""Tests for razor_ext.algorithm.BaseAlgorithm and its documented extension recipe."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from razor_ext.algorithm import BaseAlgorithm
from razor_ext.algorithm import BaseDataPreprocessor, ImgDataPreprocessor
from razor_ext.registry import MODELS

DOC = Path(__file__).resolve().parents[2] / 'docs' / 'adding_an_algorithm.md'


@pytest.fixture
def models_registry() -> Iterator[None]:
    """Undo registrations a test makes in the global MODELS registry."""
    before = dict(MODELS.module_dict)
    yield
    MODELS._module_dict.clear()
    MODELS._module_dict.update(before)


class ModeAwareNet(nn.Module):
    """An MMEngine-style model: forward(inputs, data_samples, mode)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, inputs: torch.Tensor, data_samples: Any = None,
                mode: str = 'tensor') -> Any:
        logits = self.fc(inputs)
        if mode == 'loss':
            return {'loss_cls': F.cross_entropy(logits, data_samples),
                    'acc': (logits.argmax(1) == data_samples).float().mean()}
        if mode == 'predict':
            return [{'label': int(i)} for i in logits.argmax(1)]
        return logits


class KwargsNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, inputs: torch.Tensor, **kwargs: Any) -> Any:
        return {'mode': kwargs.get('mode'), 'data_samples': kwargs.get('data_samples')}


def separable_data(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three well-separated Gaussian blobs in 4-D: a linear model can fit them."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    centers = torch.eye(3, 4) * 4.0
    return centers[labels] + 0.3 * torch.randn(n, 4, generator=g), labels


# ---------------------------------------------------------------------------- modes
def test_mode_aware_architecture_receives_mode() -> None:
    torch.manual_seed(0)
    algo = BaseAlgorithm(ModeAwareNet())
    x, y = separable_data(6)
    logits = algo(x)  # tensor is the default mode
    assert torch.equal(logits, algo.architecture.fc(x))
    assert set(algo(x, y, mode='loss')) == {'loss_cls', 'acc'}
    preds = algo(x, y, mode='predict')
    assert preds == [{'label': int(i)} for i in logits.argmax(1)]


def test_kwargs_architecture_counts_as_mode_aware() -> None:
    algo = BaseAlgorithm(KwargsNet())
    labels = torch.tensor([1])
    out = algo(torch.ones(1, 4), labels, mode='predict')
    assert out['mode'] == 'predict' and out['data_samples'] is labels  # by keyword


def test_mode_aware_architecture_with_other_target_name_gets_it_positionally() -> None:
    class TargetsNet(nn.Module):
        def forward(self, x: torch.Tensor, targets: Any = None, mode: str = 'tensor') -> Any:
            return mode, targets

    labels = torch.tensor([2])
    assert BaseAlgorithm(TargetsNet())(torch.ones(1), labels, mode='loss') == ('loss', labels)


def test_plain_architecture_is_adapted() -> None:
    torch.manual_seed(0)
    net = nn.Linear(4, 3)
    algo = BaseAlgorithm(net)
    x, y = separable_data(8)
    assert torch.equal(algo(x, mode='tensor'), net(x))
    losses = algo(x, y, mode='loss')
    assert list(losses) == ['loss']
    torch.testing.assert_close(losses['loss'], F.cross_entropy(net(x), y))
    assert torch.equal(algo(x, mode='predict'), net(x).argmax(1))


def test_plain_architecture_loss_needs_targets() -> None:
    with pytest.raises(ValueError, match='needs targets'):
        BaseAlgorithm(nn.Linear(4, 3))(torch.ones(2, 4), mode='loss')


def test_custom_loss_fn_and_raw_predictions() -> None:
    net = nn.Linear(4, 1)
    algo = BaseAlgorithm(net, loss_fn=nn.MSELoss())
    x, y = torch.randn(5, 4), torch.randn(5, 1)
    torch.testing.assert_close(algo(x, y, mode='loss')['loss'], F.mse_loss(net(x), y))
    # a regression head must not be argmax-ed into zeros
    assert torch.equal(algo(x, mode='predict'), net(x))
    assert 'loss_fn' in dict(algo.named_children())  # follows .to() with the algorithm


def test_loss_fn_from_config(models_registry: None) -> None:
    MODELS.register_module(module=nn.SmoothL1Loss)
    algo = BaseAlgorithm(nn.Linear(2, 1), loss_fn=dict(type='SmoothL1Loss', beta=0.5))
    assert isinstance(algo.loss_fn, nn.SmoothL1Loss) and algo.loss_fn.beta == 0.5


def test_loss_fn_with_mode_aware_architecture_is_rejected() -> None:
    with pytest.raises(ValueError, match='loss_fn'):
        BaseAlgorithm(ModeAwareNet(), loss_fn=nn.MSELoss())


@pytest.mark.parametrize('mode', ['train', 'LOSS', '', 'predict '])
def test_invalid_mode_message_is_exact(mode: str) -> None:
    algo = BaseAlgorithm(nn.Linear(4, 3))
    with pytest.raises(RuntimeError) as info:
        algo(torch.ones(1, 4), mode=mode)
    assert str(info.value) == (f'Invalid mode "{mode}". Only supports loss, predict and '
                               f'tensor mode')


def test_replaced_architecture_is_re_inspected() -> None:
    algo = BaseAlgorithm(ModeAwareNet())
    algo.architecture = nn.Linear(4, 3)  # e.g. a pruning algorithm swapping in a smaller model
    assert algo(torch.ones(2, 4), mode='predict').shape == (2,)


def test_compiled_plain_module_is_not_mistaken_for_mode_aware() -> None:
    class Wrapper(nn.Module):  # stands in for torch.compile's OptimizedModule
        def __init__(self, mod: nn.Module) -> None:
            super().__init__()
            self._orig_mod = mod

        def forward(self, *args: Any, **kwargs: Any) -> Any:
            return self._orig_mod(*args, **kwargs)

    algo = BaseAlgorithm(Wrapper(nn.Linear(4, 3)))
    assert algo(torch.ones(2, 4), mode='predict').shape == (2,)


# ---------------------------------------------------------------------------- construction
def test_architecture_from_config_dict(models_registry: None) -> None:
    @MODELS.register_module()
    class TinyNet(nn.Linear):
        def __init__(self, width: int = 3) -> None:
            super().__init__(4, width)

    cfg = dict(architecture=dict(type='TinyNet', width=5))
    algo = MODELS.build(dict(type='BaseAlgorithm', **cfg))
    assert isinstance(algo, BaseAlgorithm) and isinstance(algo.architecture, TinyNet)
    assert algo.architecture.out_features == 5
    assert cfg == dict(architecture=dict(type='TinyNet', width=5))  # not mutated


def test_bad_architecture_arguments() -> None:
    with pytest.raises(TypeError, match='architecture must be an nn.Module'):
        BaseAlgorithm('resnet')  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='not an nn.Module'):
        BaseAlgorithm(dict(type=lambda: 3))
    with pytest.raises(KeyError, match='not registered'):
        BaseAlgorithm(dict(type='NoSuchNet'))


def test_new_algorithm_subclass_registered_and_built(models_registry: None) -> None:
    @MODELS.register_module()
    class DoubleLoss(BaseAlgorithm):
        def loss(self, inputs: Any, data_samples: Any = None) -> dict[str, torch.Tensor]:
            base = super().loss(inputs, data_samples)['loss']
            return {'loss_main': base, 'loss_aux': [base, base]}

    algo = MODELS.build(dict(type='DoubleLoss', architecture=nn.Linear(4, 3),
                             data_preprocessor=dict(type='ImgDataPreprocessor')))
    assert type(algo) is DoubleLoss and isinstance(algo.data_preprocessor, ImgDataPreprocessor)
    x, y = separable_data(9)
    log = algo.train_step((x, y), torch.optim.SGD(algo.parameters(), lr=0.0))
    assert log['loss'] == pytest.approx(3 * log['loss_main'], rel=1e-6)
    assert log['loss_aux'] == pytest.approx(2 * log['loss_main'], rel=1e-6)


def test_registered_in_models() -> None:
    assert MODELS.get('BaseAlgorithm') is BaseAlgorithm


def test_data_preprocessor_argument_forms() -> None:
    assert type(BaseAlgorithm(nn.Identity()).data_preprocessor) is BaseDataPreprocessor
    pre = ImgDataPreprocessor(mean=[0.0], std=[2.0])
    assert BaseAlgorithm(nn.Identity(), data_preprocessor=pre).data_preprocessor is pre
    with pytest.raises(TypeError, match='data_preprocessor'):
        BaseAlgorithm(nn.Identity(), data_preprocessor=[1, 2])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- steps
@pytest.mark.parametrize('arch_cls', [ModeAwareNet, lambda: nn.Linear(4, 3)])
def test_train_step_learns_a_separable_problem(arch_cls: Any) -> None:
    torch.manual_seed(0)
    algo = BaseAlgorithm(arch_cls())
    optim = torch.optim.SGD(algo.parameters(), lr=0.5)
    x, y = separable_data()
    logs = [algo.train_step({'inputs': x, 'data_samples': y}, optim) for _ in range(15)]
    for log in logs:
        assert all(type(v) is float for v in log.values())
        assert next(iter(log)) == 'loss'
    assert logs[-1]['loss'] < 0.5 * logs[0]['loss']
    assert torch.equal(algo.val_step((x, y)) if arch_cls is not ModeAwareNet
                       else torch.tensor([p['label'] for p in algo.val_step((x, y))]), y)


def test_train_step_zeroes_gradients_each_step() -> None:
    algo = BaseAlgorithm(nn.Linear(4, 3))
    optim = torch.optim.SGD(algo.parameters(), lr=0.0)  # lr 0: parameters stay put
    x, y = separable_data(8)
    algo.train_step((x, y), optim)
    first = algo.architecture.weight.grad.clone()
    algo.train_step((x, y), optim)
    torch.testing.assert_close(algo.architecture.weight.grad, first)  # not accumulated


def test_train_step_with_optim_wrapper() -> None:
    class OptimWrapper:  # the duck type MMEngine's runner passes
        def __init__(self, optimizer: torch.optim.Optimizer) -> None:
            self.optimizer = optimizer
            self.contexts = 0

        def optim_context(self, model: nn.Module) -> Any:
            self.contexts += 1
            return torch.enable_grad()

        def update_params(self, loss: torch.Tensor) -> None:
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad()

    algo = BaseAlgorithm(nn.Linear(4, 3))
    wrapper = OptimWrapper(torch.optim.SGD(algo.parameters(), lr=0.1))
    before = algo.architecture.weight.detach().clone()
    log = algo.train_step(separable_data(8), wrapper)
    assert wrapper.contexts == 1 and isinstance(log['loss'], float)
    assert not torch.equal(before, algo.architecture.weight)


def test_val_and_test_step_run_without_grad() -> None:
    seen: list[bool] = []

    class Probe(nn.Linear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(torch.is_grad_enabled())
            return super().forward(x)

    algo = BaseAlgorithm(Probe(4, 3))
    x, y = separable_data(5)
    assert algo.val_step({'inputs': x}).shape == (5,)
    assert algo.test_step([x, y]).shape == (5,)
    assert seen == [False, False]


@pytest.mark.parametrize('bad', [torch.ones(2, 4), 'batch', (torch.ones(2, 4),),
                                 (torch.ones(2, 4), None, None)])
def test_bad_data_is_type_error(bad: Any) -> None:
    algo = BaseAlgorithm(nn.Linear(4, 3))
    with pytest.raises(TypeError, match='inputs'):
        algo.val_step(bad)


def test_dict_data_with_unknown_key_is_rejected() -> None:
    with pytest.raises(KeyError, match="'targets'"):
        BaseAlgorithm(nn.Linear(4, 3)).val_step({'inputs': torch.ones(1, 4),
                                                 'targets': torch.zeros(1)})


# ---------------------------------------------------------------------------- parse_losses
def test_parse_losses_sums_loss_keys_and_logs_everything() -> None:
    algo = BaseAlgorithm(nn.Identity())
    w = torch.tensor(2.0, requires_grad=True)
    total, log = algo.parse_losses({
        'loss_cls': torch.tensor([1.0, 3.0]) * w,   # mean -> 4
        'aux_loss': [torch.tensor(1.0), torch.tensor([2.0, 4.0])],  # 1 + 3
        'acc': torch.tensor(0.75),                  # logged, not summed
    })
    assert total.item() == pytest.approx(8.0)
    assert log == {'loss': 8.0, 'loss_cls': 4.0, 'aux_loss': 4.0, 'acc': 0.75}
    assert list(log)[0] == 'loss' and all(type(v) is float for v in log.values())
    total.backward()
    assert w.grad.item() == pytest.approx(2.0)


def test_parse_losses_key_named_loss_and_total() -> None:
    total, log = BaseAlgorithm(nn.Identity()).parse_losses(
        {'loss': torch.tensor(1.0), 'loss_kd': torch.tensor(2.0)})
    assert total.item() == 3.0 and log == {'loss': 3.0, 'loss_kd': 2.0}


@pytest.mark.parametrize('value', [1.0, 'x', [torch.tensor(1.0), 2.0], None])
def test_parse_losses_bad_value_names_key(value: Any) -> None:
    with pytest.raises(TypeError, match="'loss_bad'"):
        BaseAlgorithm(nn.Identity()).parse_losses({'loss_bad': value})


def test_parse_losses_needs_a_loss_key() -> None:
    with pytest.raises(ValueError, match="no key contains 'loss'"):
        BaseAlgorithm(nn.Identity()).parse_losses({'acc': torch.tensor(1.0)})
    with pytest.raises(ValueError, match='empty'):
        BaseAlgorithm(nn.Identity()).parse_losses({'loss_x': []})


# ---------------------------------------------------------------------------- init_cfg
def test_init_cfg_pretrained_loads_architecture_or_algorithm_checkpoints(
        tmp_path: Path) -> None:
    source = nn.Linear(4, 3)
    torch.save(source.state_dict(), tmp_path / 'arch.pth')
    torch.save({'state_dict': BaseAlgorithm(source).state_dict()}, tmp_path / 'algo.pth')
    for name in ('arch.pth', 'algo.pth'):
        algo = BaseAlgorithm(nn.Linear(4, 3), init_cfg=dict(type='Pretrained',
                                                            checkpoint=tmp_path / name))
        algo.init_weights()
        assert torch.equal(algo.architecture.weight, source.weight)


def test_init_cfg_validated() -> None:
    with pytest.raises(ValueError, match='Pretrained'):
        BaseAlgorithm(nn.Identity(), init_cfg=dict(type='Kaiming'))


# ---------------------------------------------------------------------------- docs
def test_doc_example_runs(models_registry: None) -> None:
    """The example in docs/adding_an_algorithm.md (pasted into the README) must run as is."""
    blocks = re.findall(r'```python\n(.*?)```', DOC.read_text(encoding='utf-8'), re.S)
    assert blocks, f'no ```python block in {DOC}'
    code = blocks[0]
    assert len(code.strip().splitlines()) < 20
    namespace: dict[str, Any] = {'__name__': 'doc_example'}
    exec(compile(code, str(DOC), 'exec'), namespace)
    algo = namespace['algo']
    assert isinstance(algo, BaseAlgorithm) and type(algo).__name__ in MODELS
    assert isinstance(namespace['log']['loss'], float)


def test_readme_shows_the_doc_example() -> None:
    """The README's 'Adding an algorithm' block is the doc example that the test above runs."""
    readme = (DOC.parents[1] / 'README.md').read_text(encoding='utf-8')
    section = readme.split('## Adding an algorithm', 1)[1]
    readme_block = re.findall(r'```python\n(.*?)```', section, re.S)[0]
    doc_block = re.findall(r'```python\n(.*?)```', DOC.read_text(encoding='utf-8'), re.S)[0]
    assert readme_block == doc_block
