"""Seeding and RNG state capture, for reproducible runs and exact resumes."""
from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def set_random_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; with ``deterministic``, ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def rng_state() -> dict[str, Any]:
    """The state of every RNG a training step may draw from, as plain data (tensors, numbers,
    tuples) so that a checkpoint holding it loads with ``weights_only=True``."""
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    numpy_state = {'name': str(name), 'keys': torch.from_numpy(keys.astype(np.int64)),
                   'pos': int(pos), 'has_gauss': int(has_gauss), 'cached_gaussian': float(cached)}
    state = {'python': random.getstate(), 'numpy': numpy_state, 'torch': torch.get_rng_state()}
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    python = state['python']
    random.setstate((python[0], tuple(python[1]), python[2]))
    numpy_state = state['numpy']
    if isinstance(numpy_state, dict):
        keys = numpy_state['keys']
        keys = keys.numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)
        numpy_state = (numpy_state['name'], keys.astype(np.uint32), numpy_state['pos'],
                       numpy_state['has_gauss'], numpy_state['cached_gaussian'])
    np.random.set_state(numpy_state)  # a dict (current files) or NumPy's tuple (older files)
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])
