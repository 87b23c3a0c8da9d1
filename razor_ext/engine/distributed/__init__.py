"""Data-parallel runs launched by ``torchrun``: process group, rank queries, one generic
gradient-averaging scheme for every algorithm, synchronised BatchNorm.

Example:
    >>> from razor_ext.engine.distributed import get_dist_info
    >>> get_dist_info().rank
    0
"""
from razor_ext.engine.distributed.data_parallel import (DataParallelContext, average_gradients,
                                                        average_tensors, broadcast_state,
                                                        broadcast_tensors)
from razor_ext.engine.distributed.launch import (LAUNCHERS, DistInfo, barrier, default_device,
                                                 get_dist_info, init_distributed, is_main_process)
from razor_ext.engine.distributed.sync_batchnorm import CpuSyncBatchNorm, convert_sync_batchnorm

__all__ = ['CpuSyncBatchNorm', 'DataParallelContext', 'DistInfo', 'LAUNCHERS', 'average_gradients',
           'average_tensors', 'barrier', 'broadcast_state', 'broadcast_tensors', 'convert_sync_batchnorm',
           'default_device', 'get_dist_info', 'init_distributed', 'is_main_process']
