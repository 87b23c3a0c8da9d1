"""The configs razor_ext ships, addressed by the ``razor_ext::`` scope as MMEngine addresses a
package's configs: ``Config.fromfile('razor_ext::classification/mnist5k_cnn.py')`` works from
any directory, in a clone and in an installed package alike.

The files live once, in the repository's ``configs/`` (MMRazor's layout); the package folder
``razor_ext/configs`` is a link to it in a clone, and ``pip install`` copies the files into the
package (``[tool.setuptools.package-data]`` in pyproject.toml).

Example:
    >>> 'classification/mnist5k_cnn.py' in shipped_configs()
    True
    >>> shipped_configs('spos*mnist*supernet')
    ['nas/spos/spos_searchable_mnist_supernet.py']
"""
from __future__ import annotations

import fnmatch
from pathlib import Path

from razor_ext.config.scopes import register_scope

__all__ = ['SCOPE', 'SHIPPED_CONFIG_DIR', 'shipped_configs']

SCOPE = 'razor_ext'
SHIPPED_CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs'
_SUFFIXES = ('.py', '.yaml', '.yml', '.json')


def shipped_configs(pattern: str | None = None) -> list[str]:
    """Names (relative to the scope, ``_base_`` files left out) of the shipped configs, sorted;
    ``pattern`` keeps the names it matches anywhere (a substring, or a shell pattern such as
    ``'spos*mnist'``).
    """
    root = SHIPPED_CONFIG_DIR
    if not root.is_dir():
        return []
    names = sorted(p.relative_to(root).as_posix() for p in root.glob('**/*')
                   if p.suffix in _SUFFIXES and p.is_file() and '_base_' not in p.parts)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, f'*{pattern}*')]
    return names


register_scope(SCOPE, SHIPPED_CONFIG_DIR)
