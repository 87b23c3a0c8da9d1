"""Every ```python block of README.md and docs/*.md runs exactly as written, alone, from a
folder outside the repository (one subprocess runs them all, each in a fresh namespace)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict

import pytest

from tests.docs_blocks import ROOT, all_blocks

BLOCKS = all_blocks()


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('docs_blocks')
    todo = [asdict(b) for b in BLOCKS if b.skip is None]
    (tmp / 'blocks.json').write_text(json.dumps(todo))
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1')}
    proc = subprocess.run([sys.executable, str(ROOT / 'tests' / 'docs_blocks.py'), str(tmp / 'blocks.json'),
                           str(tmp / 'out.json')], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp / 'out.json').read_text())


def test_blocks_are_found():
    assert any(b.file == 'README.md' for b in BLOCKS)


@pytest.mark.parametrize('block', BLOCKS, ids=[b.id for b in BLOCKS])
def test_doc_block_runs_as_written(block, results):
    if block.skip is not None:
        pytest.skip(block.skip)
    assert results[block.id] == '', f'{block.id} fails as written:\n{results[block.id]}'
