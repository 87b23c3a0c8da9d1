"""Through the CLI, a checkpoint with a missing key or of the wrong architecture is one line
(plus the hint) naming the key, wherever the checkpoint is taken."""
from __future__ import annotations

from pathlib import Path

import pytest

from razor_ext.architectures import MnistCNN
from razor_ext.cli import main
from razor_ext.fileio import save_checkpoint

CNN = 'razor_ext::classification/mnist5k_cnn.py'


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[1].startswith('  hint:'), err
    return err[0]


def test_wrong_architecture_at_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = save_checkpoint({'state_dict': MnistCNN(width=8).state_dict()}, tmp_path / 'w8.pth')
    assert main(['export', CNN, '--checkpoint', str(ckpt), '--out', str(tmp_path / 'x.onnx')]) == 1
    line = error_line(capsys)
    assert 'w8.pth does not fit BaseAlgorithm' in line
    assert 'architecture.features.0.0.weight checkpoint (8, 1, 3, 3) vs model (16, 1, 3, 3)' in line


def test_missing_key_as_teacher_ckpt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = MnistCNN(width=16).state_dict()
    del state['head.weight']
    ckpt = save_checkpoint({'state_dict': state}, tmp_path / 'teacher.pth')
    assert main(['distill', 'razor_ext::distill/kd/kd_logits_cnn16_cnn8_mnist5k.py', '--work-dir',
                 str(tmp_path / 'kd'), '--cfg-options', f'model.teacher_ckpt={ckpt}']) == 1
    line = error_line(capsys)
    assert 'teacher.pth does not fit MnistCNN: missing keys: head.weight' in line
