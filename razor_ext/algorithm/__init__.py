"""Core: :class:`BaseAlgorithm`, the ``nn.Module`` every compression algorithm derives from, and
the data preprocessors that turn a batch into ``{'inputs', 'data_samples'}``.

Example:
    >>> import torch
    >>> from torch import nn
    >>> algo = BaseAlgorithm(nn.Linear(4, 3))
    >>> algo(torch.randn(2, 4), mode='tensor').shape
    torch.Size([2, 3])
"""
from razor_ext.algorithm.base_algorithm import BaseAlgorithm
from razor_ext.algorithm.data_preprocessor import BaseDataPreprocessor, ImgDataPreprocessor
from razor_ext.algorithm.random_weights import RandomWeightsWarning, warn_random_weights
from razor_ext.algorithm.weights import WeightsMismatchError, load_weights, state_dict_of

__all__ = ['BaseAlgorithm', 'BaseDataPreprocessor', 'ImgDataPreprocessor', 'RandomWeightsWarning',
           'WeightsMismatchError', 'load_weights', 'state_dict_of', 'warn_random_weights']
