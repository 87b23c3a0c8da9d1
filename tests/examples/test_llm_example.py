"""Smoke run of examples/llm_compress_stdlib.py (--quick: a tiny model, a few steps): it reads the
standard library's source, trains, compresses six ways and prints the table. The full run is what
the README shows (minutes, not repeated here)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_llm_example_quick_prints_all_arms(tmp_path):
    out = tmp_path / "llm.md"
    result = subprocess.run([sys.executable, "examples/llm_compress_stdlib.py", "--quick", "--out", str(out)],
                            capture_output=True, text=True, cwd=ROOT, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ") and "arm" not in line]
    names = [r.split("|")[1].strip() for r in rows]
    assert names == ["float", "RTN int4 g128", "GPTQ int4 g128", "magnitude 50%", "SparseGPT 50%",
                     "SparseGPT 2:4"]
    for r in rows:
        assert float(r.split("|")[2]) > 1.0  # a perplexity, finite
