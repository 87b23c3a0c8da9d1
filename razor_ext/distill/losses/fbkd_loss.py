"""FBKDLoss: Zhang & Ma, "Improve Object Detection with Feature-based Knowledge Distillation"."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from razor_ext.registry import MODELS


def _masked_l2(a: Tensor, b: Tensor, mask: Tensor) -> Tensor:
    return ((a - b).pow(2) * mask).sum().sqrt()


@MODELS.register_module()
class FBKDLoss(nn.Module):
    """Attention-guided feature loss + channel/spatial attention losses + non-local loss.

    Paper: Zhang, Ma, "Improve Object Detection with Feature-based Knowledge Distillation:
    Towards Accurate and Efficient Detectors", ICLR 2021, https://openreview.net/forum?id=uKhGRvM8QNH.

    ``s_input`` = (spatial_mask, channel_mask, channel_pool_adapt, spatial_pool_adapt,
    relation_adapt, feat_adapt) and ``t_input`` = (spatial_mask, channel_mask, spatial_pool,
    relation, feat), as an FBKD connector produces them.

    Example:
        >>> import torch
        >>> f = torch.ones(1, 2, 3, 3); m = torch.ones(1, 1, 3, 3); c = torch.ones(1, 2, 1, 1)
        >>> s = (m, c, torch.ones(1, 2), torch.ones(1, 1, 3, 3), f, f)
        >>> t = (m, c, torch.ones(1, 1, 3, 3), f, f)
        >>> FBKDLoss()(s, t).item()
        0.0
    """

    def __init__(self, mask_l2_weight: float = 7e-5, channel_weight: float = 4e-3,
                 spatial_weight: float = 4e-3, nonloacl_weight: float = 7e-5,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        self.mask_l2_weight = mask_l2_weight
        self.channel_weight = channel_weight
        self.spatial_weight = spatial_weight
        self.nonloacl_weight = nonloacl_weight  # sic: MMRazor's argument name
        self.loss_weight = loss_weight

    def forward(self, s_input: tuple[Tensor, ...], t_input: tuple[Tensor, ...]) -> Tensor:
        if len(s_input) != 6 or len(t_input) != 5:
            raise ValueError(f's_input must hold 6 tensors and t_input 5, got {len(s_input)} '
                             f'and {len(t_input)}')
        s_spatial, s_channel, s_channel_pool, s_spatial_pool, s_relation, s_feat = s_input
        t_spatial, t_channel, t_spatial_pool, t_relation, t_feat = t_input
        spatial_mask = ((t_spatial + s_spatial) / 2).detach()
        loss = _masked_l2(t_feat, s_feat, spatial_mask) * self.mask_l2_weight
        loss = loss + torch.dist(t_feat.mean((2, 3)), s_channel_pool) * self.channel_weight
        loss = loss + torch.dist(t_spatial_pool, s_spatial_pool) * self.spatial_weight
        loss = loss + torch.dist(t_relation, s_relation) * self.nonloacl_weight
        return self.loss_weight * loss
