"""``sync_bn=True``: BatchNorm statistics over the whole global batch, on GPUs and on CPUs.

torch's ``SyncBatchNorm`` runs on GPUs only; :class:`CpuSyncBatchNorm` computes the same thing
with an autograd-aware all-reduce of the per-channel sums (``torch.distributed.nn``), so a
gloo job on CPUs gets synchronised BatchNorm too.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from razor_ext.engine.distributed.launch import get_dist_info


class CpuSyncBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics are reduced over all ranks (any input ``(N, C, *)``).

    Outside a process group, or in eval mode, it is a plain BatchNorm.

    Example:
        >>> bn = CpuSyncBatchNorm(3)
        >>> bn(torch.randn(4, 3, 5, 5)).shape
        torch.Size([4, 3, 5, 5])
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f'expected an input of shape (N, C, *), got {tuple(input.shape)}')

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        if not (self.training and get_dist_info().distributed):
            return super().forward(input)
        channels = input.shape[1]
        dims = [0] + list(range(2, input.dim()))
        count = torch.full((1,), input.numel() / max(channels, 1), dtype=input.dtype, device=input.device)
        stats = torch.cat([input.sum(dims), (input * input).sum(dims), count])
        stats = dist_fn.all_reduce(stats, op=dist.ReduceOp.SUM)
        total = stats[-1]
        mean = stats[:channels] / total
        var = (stats[channels:2 * channels] / total - mean * mean).clamp_min(0)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                            else self.momentum)
                unbiased = var * total / (total - 1).clamp_min(1)
                self.running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
                self.running_var.mul_(1 - momentum).add_(unbiased.detach(), alpha=momentum)
        shape = [1, channels] + [1] * (input.dim() - 2)
        out = (input - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm in ``module`` by a synchronised one: torch's ``SyncBatchNorm`` on
    CUDA, :class:`CpuSyncBatchNorm` elsewhere. Weights and running statistics are kept.

    Example:
        >>> net = convert_sync_batchnorm(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)), torch.device('cpu'))
        >>> type(net[1]).__name__
        'CpuSyncBatchNorm'
    """
    if device.type == 'cuda':
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    # Exact classes only: a subclass (a supernet's dynamic BatchNorm) has a forward of its own.
    if type(module) in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
        new = CpuSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats).to(device)
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        return new
    for name, child in module.named_children():
        new_child = convert_sync_batchnorm(child, device)
        if new_child is not child:
            setattr(module, name, new_child)
    return module
