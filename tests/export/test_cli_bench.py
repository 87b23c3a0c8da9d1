"""``razor-ext bench FILE.onnx``: one JSON line per runtime, threads and batch stated."""
from __future__ import annotations

import importlib.util
import json

import torch
from torch import nn

from razor_ext.cli import main
from razor_ext.export import to_onnx


def test_bench_prints_one_json_line_per_runtime(tmp_path, capsys):
    path = to_onnx(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU()), torch.randn(1, 1, 8, 8), tmp_path / 'm.onnx')
    assert main(['bench', str(path), '--threads', '1', '--batch-size', '3', '--warmup', '0',
                 '--repeats', '2']) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line['runtime'] for line in lines] == ['onnxruntime', 'openvino']
    ort = lines[0]
    assert ort['threads'] == 1 and ort['batch_size'] == 3 and ort['repeats'] == 2 and ort['median_ms'] > 0
    if importlib.util.find_spec('openvino') is None:
        assert 'pip install' in lines[1]['error']
    else:
        assert lines[1]['median_ms'] > 0
    assert main(['bench', str(tmp_path / 'missing.onnx')]) == 2
