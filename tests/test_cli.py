"""The razor-ext command: info prints the build as JSON; demo prunes the default model, checks it
against eager PyTorch and exits 0; bad arguments exit 2 with a message."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import razor_ext
from razor_ext.cli import main


def test_info_prints_build_info_json(capsys):
    assert main(["info"]) == 0
    assert json.loads(capsys.readouterr().out) == razor_ext.build_info()


def test_demo_prunes_and_verifies(capsys):
    assert main(["demo", "--ratio", "0.75"]) == 0
    out = capsys.readouterr().out
    assert "267 tensors" in out and "7 channel groups" in out
    assert "keeping 25% of every group's channels" in out
    assert "verified: identical to eager PyTorch" in out


@pytest.mark.parametrize("ratio", ["1.0", "-0.1"])
def test_demo_rejects_bad_ratio(ratio, capsys):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--ratio", ratio])
    assert info.value.code == 2
    assert "--ratio must be in [0, 1)" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "razor_ext", "info"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["version"] == razor_ext.__version__
