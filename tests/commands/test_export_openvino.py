"""``razor-ext export ... --out FILE.xml`` writes OpenVINO IR (float and quantized results),
checked in OpenVINO; without OpenVINO it says how to install it."""
from __future__ import annotations

import importlib.util

import pytest

from razor_ext.cli import main

QUICK = ['train_cfg.max_epochs=1', 'train_dataloader.dataset.split=val',
         'default_hooks.logger.console=false']
HAVE_OPENVINO = importlib.util.find_spec('openvino') is not None


def test_float_and_quantized_results_export_to_openvino_ir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cnn = 'razor_ext::classification/mnist5k_cnn.py'
    assert main(['train', cnn, '--work-dir', 'cnn', '--cfg-options', *QUICK]) == 0
    code = main(['export', cnn, '--checkpoint', 'cnn/last.pth', '--out', 'cnn.xml'])
    if not HAVE_OPENVINO:
        assert code == 1 and 'pip install' in capsys.readouterr().err
        pytest.skip('OpenVINO is not installed (pip install razor_ext[openvino]): refusal checked')
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / 'cnn.xml').is_file() and (tmp_path / 'cnn.bin').is_file()
    assert 'verified in OpenVINO' in capsys.readouterr().out
    ptq = 'razor_ext::quantization/ptq_int8_mnist5k.py'
    assert main(['quantize', ptq, '--work-dir', 'ptq', '--cfg-options', 'train_cfg.calibrate_steps=1',
                 'model.float_checkpoint=cnn/last.pth']) == 0, capsys.readouterr().err
    assert main(['export', ptq, '--checkpoint', 'ptq/quantized.pth', '--out', 'int8.xml']) == 0, \
        capsys.readouterr().err
    assert (tmp_path / 'int8.xml').is_file()
    # int8 IR is smaller than the float one: the weights are stored as 8-bit integers
    assert (tmp_path / 'int8.bin').stat().st_size < (tmp_path / 'cnn.bin').stat().st_size
