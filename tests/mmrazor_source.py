"""MMRazor's own files, for the interop tests: read from a checkout named by the environment
variable ``MMRAZOR_ROOT`` (a work tree, or a bare git directory whose HEAD is read), never from a
machine path. Without it, or without the file, the test is skipped and says why."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ENV = 'MMRAZOR_ROOT'


def mmrazor_root() -> Path | None:
    """The checkout ``MMRAZOR_ROOT`` names, or None when it is unset."""
    value = os.environ.get(ENV, '')
    return Path(value) if value else None


def mmrazor_text(path: str) -> str:
    """The text of ``path`` (relative to MMRazor's repository root), or skip with the reason."""
    root = mmrazor_root()
    if root is None:
        pytest.skip(f'{ENV} is not set: point it at a checkout of open-mmlab/mmrazor to compare '
                    f'with its {path}')
    if not root.is_dir():
        pytest.fail(f'{ENV}={root} is not a directory')
    if (root / path).is_file():
        return (root / path).read_text()
    if shutil.which('git') is not None:  # a bare git directory (or a work tree with the file deleted)
        out = subprocess.run(['git', f'--git-dir={root}' if not (root / '.git').exists() else
                              f'--git-dir={root / ".git"}', 'show', f'HEAD:{path}'],
                             capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout
    pytest.skip(f'{path} is not in the MMRazor checkout {ENV}={root}')
