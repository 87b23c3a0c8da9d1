"""examples/deployment_table.py: the models match torchvision's published sizes, and (full tests)
the script writes a table whose int8 rows agree with float and whose pruned rows are smaller."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    sys.path.insert(0, str(ROOT / 'examples'))
    spec = importlib.util.spec_from_file_location(name, ROOT / 'examples' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_models_have_torchvision_parameter_counts():
    models = _load('deploy_models')
    for name, published in models.PUBLISHED_PARAMS.items():
        assert sum(p.numel() for p in models.build(name).parameters()) == published, name
    with pytest.raises(ValueError, match='resnet18'):
        models.build('vgg')


def test_cosine():
    table = _load('deployment_table')
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    assert table.cosine(a, a) == pytest.approx(1.0)
    assert table.cosine(a, -a) == pytest.approx(-1.0)


@pytest.mark.skipif(os.environ.get('RAZOR_EXT_FULL_TESTS') != '1', reason='minutes: RAZOR_EXT_FULL_TESTS=1')
def test_quick_table(tmp_path):
    table = _load('deployment_table')
    out = tmp_path / 't.md'
    table.main(['--quick', '--out', str(out)])
    rows = {r.split('|')[2].strip(): [c.strip() for c in r.strip('|').split('|')]
            for r in out.read_text().splitlines() if r.startswith('| resnet18')}
    assert set(rows) == set(table.VARIANTS)
    assert float(rows['int8'][-1]) > 0.99  # int8 agrees with float
    assert float(rows['int8'][2]) < 0.3 * float(rows['float'][2])  # a quarter of the bytes
    assert float(rows['pruned 50%'][2]) < 0.35 * float(rows['float'][2])
