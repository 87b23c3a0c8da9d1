"""``warn_random_weights``: one warning, once, where a model that should come from a checkpoint
(a teacher, a float model to quantize) runs on its random initial weights."""
from __future__ import annotations

import warnings

__all__ = ['RandomWeightsWarning', 'warn_random_weights']

class RandomWeightsWarning(UserWarning):
    """A model that should be trained runs on random weights."""


def warn_random_weights(what: str, key: str) -> None:
    """Warn (one line) that ``what`` has random weights and that setting ``key`` fixes it.

    Issued from this one place, so Python's default warning filter shows each message once per
    process however many models are built (and a test's ``catch_warnings`` sees it afresh).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter('always')
        ...     warn_random_weights('the teacher', 'model.teacher_ckpt')
        >>> str(caught[0].message)
        'the teacher runs on random weights: set model.teacher_ckpt to a trained checkpoint'
    """
    warnings.warn(f'{what} runs on random weights: set {key} to a trained checkpoint',
                  RandomWeightsWarning, stacklevel=1)
