"""``DCFFChannelMutator``: channel units whose convolutions keep ``m`` *fused* filters instead of
``m`` of their filters (Dynamic-coded Filter Fusion: Chen et al., "Training Compact CNNs for
Image Classification using Dynamic-coded Filter Fusion", TPAMI 2023)."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from razor_ext.pruning.mutators.channel_mutator import ChannelMutator, sequential_scores
from razor_ext.registry import MODELS


class _FuseFilters(nn.Module):
    """Parametrization ``w -> F @ w`` over the output dim (``F``: ``(C, C)``, rows past the kept
    count zero): each kept output channel is a mix of all the layer's filters."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer('fuse', torch.eye(channels))

    def forward(self, w: Tensor) -> Tensor:
        return (self.fuse.to(w.dtype) @ w.reshape(w.shape[0], -1)).reshape(w.shape)


def pooled_channels(weight: Tensor, tau: float, keep: int) -> Tensor:
    """DCFF's fusion matrix ``(keep, C)`` of a conv weight ``(C, ...)``: ``P = softmax(-cdist(W, W)
    / tau)`` row-wise; each filter's score is the sum over its row of the mean of ``P_ij log P_ij
    - P_ij mean_k log P_jk`` (MMRazor's KL term); the rows of the ``keep`` highest scores, in
    channel order.

    Example:
        >>> w = torch.randn(6, 3, 3, 3)
        >>> p = pooled_channels(w, tau=1e-4, keep=4)
        >>> p.shape, torch.allclose(p.sum(1), torch.ones(4))
        (torch.Size([4, 6]), True)
    """
    if not 0 < keep <= weight.shape[0]:
        raise ValueError(f'keep must be in [1, {weight.shape[0]}], got {keep}')
    flat = weight.detach().reshape(weight.shape[0], -1)
    p = torch.softmax(-torch.cdist(flat, flat, p=2) / tau, dim=1)
    eps = 1e-7
    log_p = p * (p + eps).log()
    log_q = p * torch.log(p + eps).mean(dim=1)  # broadcasts over the last dim, as MMRazor's
    score = (log_p - log_q).mean(dim=1)
    ids = torch.topk(score, keep, sorted=False).indices.sort().values
    return p[ids]


@MODELS.register_module()
class DCFFChannelMutator(ChannelMutator):
    """As :class:`ChannelMutator` with sequential units (a unit of ``m`` channels keeps its first
    ``m`` positions), except that every convolution producing a unit's channels (groups 1 or
    depthwise) outputs ``m`` fused filters: :meth:`calc_information` sets them from the current
    weights and a temperature; :meth:`to_static` bakes them in.

    Example:
        >>> m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 1))
        >>> mut = DCFFChannelMutator(parse_cfg=dict(type='ChannelAnalyzer', demo_input=(1, 3, 8, 8)))
        >>> mut.prepare_from_supernet(m)
        >>> mut.set_choices({'0_(0, 8)_8': 0.5}); mut.calc_information(1.0)
        >>> mut.to_static()[0].out_channels
        4
    """

    def prepare_from_supernet(self, supernet: nn.Module, example_inputs: Any = None) -> None:
        super().prepare_from_supernet(supernet, example_inputs)
        self.fused: dict[str, Any] = {}  # conv name -> (unit, conv)
        for unit in self.units:
            for name, start, end in unit.unit.output_related:
                module = supernet.get_submodule(name)
                if not isinstance(module, nn.Conv2d) or (start, end) != (0, unit.num_channels) \
                        or name in self.fused:
                    continue
                if module.groups != 1 and not module.groups == module.in_channels == \
                        module.out_channels:
                    raise NotImplementedError(
                        f'DCFF fuses convolutions with groups 1 or depthwise ones; {name} has '
                        f'groups={module.groups}')
                for tensor in ('weight', 'bias'):
                    if getattr(module, tensor, None) is not None:
                        parametrize.register_parametrization(
                            module, tensor, _FuseFilters(module.out_channels), unsafe=True)
                self.fused[name] = (unit, module)
        self._update_masks()

    def _fusers(self, module: nn.Module) -> list[_FuseFilters]:
        return [p for tensor in ('weight', 'bias') if parametrize.is_parametrized(module, tensor)
                for p in getattr(module.parametrizations, tensor) if isinstance(p, _FuseFilters)]

    def _update_masks(self) -> None:
        super()._update_masks()
        fused = getattr(self, 'fused', {})
        with torch.no_grad():
            # A fused conv's output rows are made by its fusion matrix (zero past the kept
            # count), not masked: the mask would remove filters before they are mixed.
            for (key, dim), (mask, _) in self._masks.items():
                if dim == 0 and key.rsplit('.', 1)[0] in fused:
                    mask.fill_(1)
            for unit, module in fused.values():
                keep = int(unit.kept.sum()) * unit.divisor
                for fuser in self._fusers(module):
                    fuser.fuse.zero_()
                    fuser.fuse[:keep, :keep] = torch.eye(keep)

    def set_choices(self, choices: Any, scores: Any = None) -> None:
        """Kept ratios / counts per unit; the first channels are kept (DCFF's units are
        sequential) and each fused conv restarts from its first ``m`` filters."""
        super().set_choices(choices, sequential_scores(self) if scores is None else scores)

    def calc_information(self, tau: float) -> None:
        """Set every fused conv's first ``m`` output rows to :func:`pooled_channels` of its
        unmasked weight at temperature ``tau`` (``m``: the unit's kept channels)."""
        if not tau > 0:
            raise ValueError(f'tau must be > 0, got {tau}')
        with torch.no_grad():
            for name, (unit, module) in self.fused.items():
                keep = int(unit.kept.sum()) * unit.divisor
                pooled = pooled_channels(self._tensor(f'{name}.weight'), tau, keep)
                for fuser in self._fusers(module):
                    fuser.fuse.zero_()
                    fuser.fuse[:keep] = pooled.to(fuser.fuse.dtype)

    def to_static(self, model: nn.Module | None = None) -> nn.Module:
        """The pruned model with the fused filters as its weights."""
        model = self.model if model is None else model
        values = {name: (module.weight.detach().clone(),
                         None if module.bias is None else module.bias.detach().clone())
                  for name, (_, module) in self.fused.items()}
        static = super().to_static(model)
        with torch.no_grad():
            for name, (weight, bias) in values.items():
                conv = static.get_submodule(name)
                conv.weight.copy_(weight[:conv.weight.shape[0], :conv.weight.shape[1]])
                if bias is not None:
                    conv.bias.copy_(bias[:conv.bias.shape[0]])
        return static


__all__ = ['DCFFChannelMutator', 'pooled_channels']
