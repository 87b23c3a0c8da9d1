"""A teacher or a float model that should come from a checkpoint but runs on random weights
warns once, in one line, naming the key to set; with the key set, or a built module, it does not."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from razor_ext.algorithm import RandomWeightsWarning
from razor_ext.architectures import MnistCNN
from razor_ext.cli import main
from razor_ext.fileio import save_checkpoint
from razor_ext.registry import MODELS

DISTILL = dict(type='SingleTeacherDistill', architecture=dict(type='MnistCNN', width=4),
               teacher=dict(type='MnistCNN', width=8), distiller=dict(type='ConfigurableDistiller'))
QUANT = dict(type='MMArchitectureQuant', architecture=dict(type='MnistCNN', width=4),
             input_shapes=(1, 1, 28, 28))


@pytest.mark.parametrize('cfg, key', [(DISTILL, 'model.teacher_ckpt'), (QUANT, 'model.float_checkpoint')])
def test_warns_naming_the_key(cfg: dict, key: str) -> None:
    with pytest.warns(RandomWeightsWarning, match=f'random weights: set {key}') as record:
        MODELS.build(dict(cfg))
    assert len(record) == 1 and '\n' not in str(record[0].message)


def test_warns_once_per_process_under_the_default_filter() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('default')
        for _ in range(3):
            MODELS.build(dict(DISTILL))
    assert len([w for w in caught if issubclass(w.category, RandomWeightsWarning)]) == 1


def test_no_warning_with_the_checkpoint_or_a_built_teacher(tmp_path: Path) -> None:
    ckpt = save_checkpoint({'state_dict': MnistCNN(width=8).state_dict()}, tmp_path / 't.pth')
    with warnings.catch_warnings():
        warnings.simplefilter('error', RandomWeightsWarning)
        MODELS.build(dict(DISTILL, teacher_ckpt=str(ckpt)))
        MODELS.build(dict(DISTILL, teacher=MnistCNN(width=8)))  # the caller's own module
        small = save_checkpoint({'state_dict': MnistCNN(width=4).state_dict()}, tmp_path / 'f.pth')
        MODELS.build(dict(QUANT, float_checkpoint=str(small)))


def test_the_cli_prints_it_as_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(['quantize', 'razor_ext::quantization/ptq_int8_mnist5k.py', '--work-dir', str(tmp_path),
                 '--cfg-options', 'train_cfg.calibrate_steps=1']) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if 'random weights' in line]
    assert lines == ['razor-ext: warning: the float model to quantize runs on random weights: '
                     'set model.float_checkpoint to a trained checkpoint']
    assert torch.load(tmp_path / 'quantized.pth', weights_only=True)['format'] == 'razor_ext.quantized/1'
