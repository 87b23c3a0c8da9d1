"""Embedded data sets for demos and tests: real images shipped inside installed packages, read
offline (never downloaded).

Example:
    >>> from razor_ext.data import EmbeddedDigits
    >>> train = EmbeddedDigits('mnist5k', split='train')
    >>> image, label = train[0]
    >>> image.shape, label.dtype
    (torch.Size([1, 28, 28]), torch.int64)
"""
from razor_ext.data.embedded import EmbeddedDigits, load_digits_8x8, load_mnist5k

__all__ = ['EmbeddedDigits', 'load_digits_8x8', 'load_mnist5k']
