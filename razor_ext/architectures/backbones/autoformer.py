"""``AutoformerBackbone``: the AutoFormer supernet ViT (Chen et al. 2021; MMRazor's class,
arguments, module paths and mutable names, so its ``AUTOFORMER_SUBNET_*.yaml`` files load)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.architectures.ops.relpos_attention import DynamicRelPosMultiheadAttention
from razor_ext.supernet.dynamic_ops import (DynamicConv2d, DynamicLayerNorm, DynamicLinear,
                                            DynamicSequential)
from razor_ext.supernet.mutables import DerivedMutable, OneShotMutableChannel, OneShotMutableValue
from razor_ext.registry import MODELS

HEAD_DIMS = 64  # AutoFormer's fixed head width (MMRazor's ``base_embed_dims``)


class AutoformerLayer(nn.Module):
    """Pre-norm encoder layer: ``x + attn(norm1(x))``, then ``x + fc2(gelu(fc1(norm2(x))))``;
    elastic embedding width, heads and MLP ratio (``fc1`` width ``int(embed * ratio)``)."""

    def __init__(self, embed_dims: int, num_heads: int, mlp_ratio: float, qkv_bias: bool,
                 drop_rate: float) -> None:
        super().__init__()
        self.norm1 = DynamicLayerNorm(embed_dims)
        self.attn = DynamicRelPosMultiheadAttention(embed_dims, num_heads, HEAD_DIMS, qkv_bias,
                                                    proj_drop_rate=drop_rate)
        self.norm2 = DynamicLayerNorm(embed_dims)
        middle = int(embed_dims * mlp_ratio)
        self.fc1 = DynamicLinear(embed_dims, middle)
        self.act = nn.GELU()
        self.fc2 = DynamicLinear(middle, embed_dims)

    def mutate(self, embed: Any, num_heads: OneShotMutableValue, mlp_ratio: OneShotMutableValue) -> None:
        self.mutable_mlp_ratios = mlp_ratio
        middle = DerivedMutable(lambda e, r: int(e * r), embed, mlp_ratio)
        for norm in (self.norm1, self.norm2):
            norm.register_mutable_attr('num_features', embed)
        self.attn.register_mutable_attr('embed_dims', embed)
        self.attn.register_mutable_attr('num_heads', num_heads)
        self.fc1.register_mutable_attr('in_features', embed)
        self.fc1.register_mutable_attr('out_features', middle)
        self.fc2.register_mutable_attr('in_features', middle)
        self.fc2.register_mutable_attr('out_features', embed)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(self.act(self.fc1(self.norm2(x))))


class PatchEmbed(nn.Module):
    """``projection``: a ``patch_size`` conv with stride ``patch_size``, then tokens
    ``(B, H/p * W/p, embed_dims)`` (mmcls's ``PatchEmbed`` module path)."""

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int) -> None:
        super().__init__()
        self.projection = DynamicConv2d(in_channels, embed_dims, patch_size, patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.projection(x).flatten(2).transpose(1, 2)


@MODELS.register_module(name=['AutoformerBackbone', 'mmrazor.AutoformerBackbone'])
class AutoformerBackbone(nn.Module):
    """The AutoFormer supernet (MMRazor's ``AutoformerBackbone``).

    Searchable: the embedding width (``backbone.mutable_embed_dims``, shared by every layer),
    the depth (``backbone.mutable_depth``), and per layer ``i`` the heads
    (``backbone.blocks.i.attn.mutable_attrs.num_heads``) and MLP ratio
    (``backbone.blocks.i.mutable_mlp_ratios``). Attention heads are 64 wide with 2-D relative
    position encodings; the output is the mean of the patch tokens after the final norm.

    Args:
        arch_setting: ``dict(mlp_ratios=[...], num_heads=[...], depth=[...], embed_dims=[...])``
            (candidate lists; the supernet is built at the largest of each).
        img_size, patch_size, in_channels: the patch grid (224 / 16: 14 x 14 patches).
        drop_rate: dropout after the position embedding and the attention projection.
        drop_path_rate: accepted (MMRazor's dynamic attention does not apply it).
        qkv_bias: bias of the q, k, v projections.
        use_final_norm: LayerNorm before pooling.
        norm_cfg, act_cfg, init_cfg: accepted for config compatibility (LayerNorm, GELU).

    Shapes: ``(B, in_channels, img_size, img_size)`` -> ``((B, embed_dims),)``.

    Example:
        >>> net = AutoformerBackbone(dict(mlp_ratios=[1.0, 2.0], num_heads=[1, 2], depth=[1, 2],
        ...                               embed_dims=[16, 32]), img_size=32, patch_size=16)
        >>> net(torch.randn(2, 3, 32, 32))[0].shape
        torch.Size([2, 32])
    """

    def __init__(self, arch_setting: Mapping[str, Sequence[Any]], img_size: int = 224,
                 patch_size: int = 16, in_channels: int = 3, drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, qkv_bias: bool = True,
                 norm_cfg: Mapping[str, Any] | None = None, act_cfg: Mapping[str, Any] | None = None,
                 use_final_norm: bool = True, init_cfg: Any = None) -> None:
        super().__init__()
        missing = {'mlp_ratios', 'num_heads', 'depth', 'embed_dims'} - set(arch_setting)
        if missing:
            raise ValueError(f'AutoformerBackbone: arch_setting lacks {sorted(missing)}')
        if img_size % patch_size:
            raise ValueError(f'img_size {img_size} must be a multiple of patch_size {patch_size}')
        ratios, heads = list(arch_setting['mlp_ratios']), list(arch_setting['num_heads'])
        depths, embeds = list(arch_setting['depth']), list(arch_setting['embed_dims'])
        emax, depth = max(embeds), max(depths)
        self.img_size, self.patch_size, self.use_final_norm = img_size, patch_size, use_final_norm
        self.mutable_embed_dims = OneShotMutableChannel(emax, embeds, alias='backbone.mutable_embed_dims')
        self.mutable_depth = OneShotMutableValue(depths, alias='backbone.mutable_depth')
        self.last_mutable = self.mutable_embed_dims
        self.patch_embed = PatchEmbed(in_channels, emax, patch_size)
        self.patch_embed.projection.register_mutable_attr('out_channels', self.mutable_embed_dims)
        num_patches = (img_size // patch_size) ** 2
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, emax))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, emax))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.drop_after_pos = nn.Dropout(drop_rate)
        layers = []
        for i in range(depth):
            layer = AutoformerLayer(emax, max(heads), max(ratios), qkv_bias, drop_rate)
            layer.mutate(self.mutable_embed_dims,
                         OneShotMutableValue(heads, alias=f'backbone.blocks.{i}.attn.mutable_attrs.num_heads'),
                         OneShotMutableValue(ratios, alias=f'backbone.blocks.{i}.mutable_mlp_ratios'))
            layers.append(layer)
        self.blocks = DynamicSequential(*layers)
        self.blocks.register_mutable_attr('depth', self.mutable_depth)
        if use_final_norm:
            self.norm1 = DynamicLayerNorm(emax).register_mutable_attr('num_features', self.mutable_embed_dims)

    def forward(self, x: Tensor) -> tuple[Tensor]:
        x = self.patch_embed(x)
        e = x.shape[-1]
        if x.shape[1] + 1 != self.pos_embed.shape[1]:
            raise ValueError(f'AutoformerBackbone: {x.shape[1]} patches, but it was built for '
                             f'{self.pos_embed.shape[1] - 1} ({self.img_size}x{self.img_size} inputs)')
        x = torch.cat([self.cls_token[..., :e].expand(x.shape[0], -1, -1), x], dim=1)
        x = self.drop_after_pos(x + self.pos_embed[..., :e])
        x = self.blocks(x)
        if self.use_final_norm:
            x = self.norm1(x)
        return (x[:, 1:].mean(dim=1),)
