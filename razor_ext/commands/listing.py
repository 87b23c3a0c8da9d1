"""``razor-ext configs [PATTERN]``: the shipped configs, by the name that runs them."""
from __future__ import annotations

from razor_ext.config import shipped_configs
from razor_ext.config.shipped import SCOPE, SHIPPED_CONFIG_DIR

__all__ = ['list_configs']


def list_configs(pattern: str | None = None) -> list[str]:
    """Print and return the scoped names (``razor_ext::nas/spos/...``) matching ``pattern``.

    Example:
        >>> list_configs('mnist5k_cnn')  # doctest: +ELLIPSIS
        razor_ext::classification/mnist5k_cnn.py
        ...
        ['razor_ext::classification/mnist5k_cnn.py']
    """
    names = [f'{SCOPE}::{n}' for n in shipped_configs(pattern)]
    for name in names:
        print(name)
    print(f'({len(names)} shipped configs in {SHIPPED_CONFIG_DIR}; run one with razor-ext train NAME)')
    return names
