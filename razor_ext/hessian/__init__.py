"""Second-order layer-wise machinery shared by GPTQ (``razor_ext.quantization``) and SparseGPT
(``razor_ext.pruning``): the per-layer Hessian ``2/n X^T X`` of a linear or conv layer's inputs,
its damped inverse Cholesky factor, and the block-by-block calibration driver that feeds one
transformer block's inputs at a time.

Example:
    >>> import torch
    >>> from torch import nn
    >>> layer = nn.Linear(8, 4)
    >>> acc = HessianAccumulator(layer)
    >>> acc.add(torch.randn(16, 8))
    >>> acc.hessian.shape
    torch.Size([8, 8])
"""
from razor_ext.hessian.accumulator import HessianAccumulator, layer_weight_matrix
from razor_ext.hessian.cholesky import damped_inverse_cholesky
from razor_ext.hessian.sequential import (find_blocks, replace_without_calibration,
                                         sequential_calibrate, set_module, target_layers)

__all__ = ['HessianAccumulator', 'damped_inverse_cholesky', 'find_blocks', 'layer_weight_matrix',
           'replace_without_calibration', 'sequential_calibrate', 'set_module', 'target_layers']
