"""Resolve a dotted path such as ``'torch.nn.functional.relu'`` or
``'razor_ext.architectures.resnet.ResNet.forward'`` to (owner object, attribute name),
so recorders and deliveries can patch the attribute and restore it afterwards."""
from __future__ import annotations

import importlib
from typing import Any


def resolve_attribute(path: str, what: str = 'source') -> tuple[Any, str]:
    """Return ``(owner, name)`` with ``getattr(owner, name)`` the object ``path`` names.

    The longest importable module prefix is imported; the rest is an attribute chain
    (``Class.method``). Raises ValueError naming ``what`` when the path does not resolve.

    Example:
        >>> owner, name = resolve_attribute('torch.nn.functional.relu')
        >>> owner.__name__, name
        ('torch.nn.functional', 'relu')
    """
    if not isinstance(path, str) or '.' not in path:
        raise ValueError(f'{what} must be a dotted path like "package.module.function", '
                         f'got {path!r}')
    parts = path.split('.')
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module('.'.join(parts[:split]))
        except ImportError:
            continue
        try:
            for attr in parts[split:-1]:
                owner = getattr(owner, attr)
        except AttributeError:
            break
        if hasattr(owner, parts[-1]):
            return owner, parts[-1]
        break
    raise ValueError(f'{what} {path!r} does not name an importable function or method')
