"""mmcls's ``VisionTransformer`` (ViT / DeiT) and ``DistilledVisionTransformer`` backbones, with
mmcls's parameter names (``patch_embed.projection``, ``cls_token``, ``pos_embed``,
``layers.0.attn.qkv``, ``layers.0.ffn.layers.0.0``, ``ln1``) and its output structure: one
``[patch_token (N, C, h, w), cls_token (N, C)]`` (plus ``dist_token``) per out index."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.architectures.ops.layer_builders import build_norm_layer
from razor_ext.registry import MODELS

_LN = {'type': 'LN', 'eps': 1e-6}
# embed dims, layers, heads, feed-forward channels
ARCHS = {'s': (768, 8, 8, 768 * 3), 'small': (768, 8, 8, 768 * 3), 'b': (768, 12, 12, 3072),
         'base': (768, 12, 12, 3072), 'l': (1024, 24, 16, 4096), 'large': (1024, 24, 16, 4096),
         'deit-t': (192, 12, 3, 768), 'deit-tiny': (192, 12, 3, 768),
         'deit-s': (384, 12, 6, 1536), 'deit-small': (384, 12, 6, 1536),
         'deit-b': (768, 12, 12, 3072), 'deit-base': (768, 12, 12, 3072)}


class DropPath(nn.Module):
    """Stochastic depth: zero a sample's residual branch with probability ``drop_prob`` in training."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class MultiheadAttention(nn.Module):
    """mmcls's attention: one ``qkv`` linear, scaled dot product, ``proj``. ``(N, L, C) -> (N, L, C)``."""

    def __init__(self, embed_dims: int, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0, drop_path: float = 0.0) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible by num_heads ({num_heads})')
        self.embed_dims, self.num_heads, self.attn_drop = embed_dims, num_heads, attn_drop
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        self.out_drop = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        n, length, c = x.shape
        q, k, v = self.qkv(x).reshape(n, length, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        return self.out_drop(self.proj_drop(self.proj(out.transpose(1, 2).reshape(n, length, c))))


class FFN(nn.Module):
    """``layers`` = Sequential(Sequential(Linear, GELU, Dropout), Linear, Dropout), then drop path."""

    def __init__(self, embed_dims: int, feedforward_channels: int, drop: float = 0.0,
                 drop_path: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(embed_dims, feedforward_channels), nn.GELU(), nn.Dropout(drop)),
            nn.Linear(feedforward_channels, embed_dims), nn.Dropout(drop))
        self.dropout_layer = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout_layer(self.layers(x))


class TransformerEncoderLayer(nn.Module):
    """Pre-norm block: ``x + attn(ln1(x))``, then ``x + ffn(ln2(x))``. ``(N, L, C) -> (N, L, C)``."""

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 qkv_bias: bool = True, norm_cfg: Mapping[str, Any] = _LN) -> None:
        super().__init__()
        self.ln1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = MultiheadAttention(embed_dims, num_heads, qkv_bias, attn_drop_rate, drop_rate,
                                       drop_path_rate)
        self.ln2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(embed_dims, feedforward_channels, drop_rate, drop_path_rate)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.ffn(self.ln2(x))


class PatchEmbed(nn.Module):
    """A ``patch_size`` strided conv (``projection``): ``(N, 3, H, W) -> (N, h*w, C), (h, w)``."""

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int) -> None:
        super().__init__()
        self.projection = nn.Conv2d(in_channels, embed_dims, patch_size, patch_size)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        x = self.projection(x)
        return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])


@MODELS.register_module(name=['VisionTransformer', 'mmcls.VisionTransformer'])
class VisionTransformer(nn.Module):
    """ViT (Dosovitskiy et al. 2021) / DeiT (Touvron et al. 2021) as mmcls builds it.

    Args:
        arch: a name in :data:`ARCHS` (``'deit-base'``, ``'b'``, ...) or a dict with
            ``embed_dims``, ``num_layers``, ``num_heads``, ``feedforward_channels``.
        img_size, patch_size, in_channels: the position embedding covers ``img_size / patch_size``
            squared patches; other input sizes interpolate it (bicubic), as mmcls does.
        out_indices: layers whose outputs are returned (-1 the last).
        drop_rate, drop_path_rate (linearly increasing over layers), qkv_bias, norm_cfg,
        final_norm (``ln1`` after the last layer), with_cls_token, output_cls_token: as mmcls.
        interpolate_mode, patch_cfg, layer_cfgs, init_cfg: accepted for config compatibility.

    Shapes: ``(N, 3, H, W)`` -> tuple of ``[(N, C, H/p, W/p), (N, C)]``.

    Example:
        >>> net = VisionTransformer(arch='deit-tiny', img_size=32, patch_size=16)
        >>> patch, cls = net(torch.randn(2, 3, 32, 32))[-1]
        >>> patch.shape, cls.shape
        (torch.Size([2, 192, 2, 2]), torch.Size([2, 192]))
    """

    num_extra_tokens = 1

    def __init__(self, arch: str | Mapping[str, int] = 'base', img_size: int = 224,
                 patch_size: int = 16, in_channels: int = 3, out_indices: int | Sequence[int] = -1,
                 drop_rate: float = 0.0, drop_path_rate: float = 0.0, qkv_bias: bool = True,
                 norm_cfg: Mapping[str, Any] = _LN, final_norm: bool = True,
                 with_cls_token: bool = True, output_cls_token: bool = True,
                 interpolate_mode: str = 'bicubic', patch_cfg: Any = None, layer_cfgs: Any = None,
                 init_cfg: Any = None) -> None:
        super().__init__()
        if isinstance(arch, str):
            if arch.lower() not in ARCHS:
                raise KeyError(f'arch {arch!r} is not in {sorted(ARCHS)}')
            dims, layers, heads, ffn = ARCHS[arch.lower()]
        else:
            dims, layers, heads, ffn = (arch['embed_dims'], arch['num_layers'], arch['num_heads'],
                                        arch['feedforward_channels'])
        if output_cls_token and not with_cls_token:
            raise ValueError('output_cls_token needs with_cls_token=True')
        self.embed_dims, self.num_layers, self.init_cfg = dims, layers, init_cfg
        self.with_cls_token, self.output_cls_token = with_cls_token, output_cls_token
        self.interpolate_mode = 'bicubic' if interpolate_mode not in ('bilinear', 'nearest') else interpolate_mode
        self.patch_embed = PatchEmbed(in_channels, dims, patch_size)
        self.patch_resolution = (img_size // patch_size, img_size // patch_size)
        num_patches = self.patch_resolution[0] * self.patch_resolution[1]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims))
        self._make_extra_tokens(dims)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + self.num_extra_tokens, dims))
        self.drop_after_pos = nn.Dropout(drop_rate)
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        self.out_indices = [layers + i if i < 0 else i for i in indices]
        for i in self.out_indices:
            if not 0 <= i < layers:
                raise ValueError(f'out_indices {out_indices} out of range for {layers} layers')
        rates = torch.linspace(0, drop_path_rate, layers).tolist()
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(dims, heads, ffn, drop_rate, 0.0, rates[i], qkv_bias, norm_cfg)
            for i in range(layers))
        self.final_norm = final_norm
        if final_norm:
            self.ln1 = build_norm_layer(norm_cfg, dims)[1]
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def _make_extra_tokens(self, dims: int) -> None:
        """Tokens besides the patches (the class token is made by ``__init__``)."""

    def _extra_tokens(self, n: int) -> list[Tensor]:
        return [self.cls_token.expand(n, -1, -1)]

    def _pos_embed(self, resolution: tuple[int, int]) -> Tensor:
        if resolution == self.patch_resolution:
            return self.pos_embed
        extra, grid = self.pos_embed[:, :self.num_extra_tokens], self.pos_embed[:, self.num_extra_tokens:]
        h, w = self.patch_resolution
        grid = grid.reshape(1, h, w, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=resolution, mode=self.interpolate_mode, align_corners=False)
        return torch.cat((extra, grid.flatten(2).transpose(1, 2)), dim=1)

    def forward(self, x: Tensor) -> tuple[Any, ...]:
        n = x.shape[0]
        x, resolution = self.patch_embed(x)
        x = torch.cat((*self._extra_tokens(n), x), dim=1)
        x = self.drop_after_pos(x + self._pos_embed(resolution))
        if not self.with_cls_token:
            x = x[:, self.num_extra_tokens:]
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                start = self.num_extra_tokens if self.with_cls_token else 0
                patch = x[:, start:].reshape(n, *resolution, -1).permute(0, 3, 1, 2)
                outs.append([patch, *(x[:, j] for j in range(self.num_extra_tokens))]
                            if self.output_cls_token else patch)
        return tuple(outs)


@MODELS.register_module(name=['DistilledVisionTransformer', 'mmcls.DistilledVisionTransformer'])
class DistilledVisionTransformer(VisionTransformer):
    """DeiT's distilled ViT: a ``dist_token`` after the class token; each output is
    ``[patch_token, cls_token, dist_token]``.

    Example:
        >>> net = DistilledVisionTransformer(arch='deit-tiny', img_size=32)
        >>> [t.shape[-1] for t in net(torch.randn(1, 3, 32, 32))[-1]]
        [2, 192, 192]
    """

    num_extra_tokens = 2

    def _make_extra_tokens(self, dims: int) -> None:
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dims))

    def _extra_tokens(self, n: int) -> list[Tensor]:
        return [self.cls_token.expand(n, -1, -1), self.dist_token.expand(n, -1, -1)]
