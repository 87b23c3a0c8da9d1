"""One warning per process when a PTQ config quantizes a model that was never trained."""
from __future__ import annotations

import warnings

__all__ = ['UntrainedModelWarning', 'warn_untrained']

_WARNED: set[str] = set()


class UntrainedModelWarning(UserWarning):
    """Post-training quantization of randomly initialised weights (no ``float_checkpoint``)."""


def warn_untrained(what: str) -> bool:
    """Warn (once per process) that ``what`` is quantized with random weights.

    Calibration of an untrained model gives int8 files whose accuracy means nothing; the usual
    cause is a PTQ config without ``float_checkpoint``. Returns whether a warning was issued.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True):
        ...     warnings.simplefilter('always')
        ...     _ = warn_untrained('Doc')  # warns, unless something warned before
        ...     warn_untrained('Doc')
        False
    """
    if 'any' in _WARNED:
        return False
    _WARNED.add('any')
    warnings.warn(f'post-training quantization of {what} with no float_checkpoint: the weights are '
                  'the random initial ones (a model that was never trained); set float_checkpoint '
                  'to the trained float state dict (this warning is issued once)',
                  UntrainedModelWarning, stacklevel=3)
    return True
