"""Vision transformers whose code reads sizes from module attributes, as torchvision's do:
a ViT reading ``self.hidden_dim``, a Swin-style block passing ``num_heads`` to a functional
windowed attention, and a MaxViT-style block (MBConv, block and grid attention with relative
position bias, partition and head sizes held as attributes)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class EncoderBlock(nn.Module):
    def __init__(self, hidden_dim: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.num_heads = heads
        self.ln_1 = nn.LayerNorm(hidden_dim)
        self.self_attention = nn.MultiheadAttention(hidden_dim, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(hidden_dim)
        self.mlp = nn.Sequential(nn.Linear(hidden_dim, mlp_dim), nn.GELU(),
                                 nn.Linear(mlp_dim, hidden_dim))

    def forward(self, inp: Tensor) -> Tensor:
        x = self.ln_1(inp)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = x + inp
        return x + self.mlp(self.ln_2(x))


class HiddenDimViT(nn.Module):
    """torchvision's ViT layout: ``_process_input`` reshapes to ``self.hidden_dim``."""

    def __init__(self, image: int = 32, patch: int = 8, hidden_dim: int = 48, heads: int = 4,
                 mlp_dim: int = 80, depth: int = 2, num_classes: int = 10) -> None:
        super().__init__()
        self.patch_size, self.hidden_dim = patch, hidden_dim
        self.conv_proj = nn.Conv2d(3, hidden_dim, patch, patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        seq = (image // patch) ** 2 + 1
        self.pos_embedding = nn.Parameter(0.02 * torch.randn(1, seq, hidden_dim))
        self.layers = nn.Sequential(*[EncoderBlock(hidden_dim, heads, mlp_dim)
                                      for _ in range(depth)])
        self.ln = nn.LayerNorm(hidden_dim)
        self.heads = nn.Sequential(nn.Linear(hidden_dim, num_classes))

    def _process_input(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        p = self.patch_size
        x = self.conv_proj(x)
        x = x.reshape(n, self.hidden_dim, (h // p) * (w // p))
        return x.permute(0, 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self._process_input(x)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.ln(self.layers(x + self.pos_embedding))
        return self.heads(x[:, 0])


def relative_index(window: int) -> Tensor:
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window),
                                        indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return (rel[..., 0] * (2 * window - 1) + rel[..., 1]).reshape(-1)


def window_attention(x: Tensor, qkv_weight: Tensor, qkv_bias: Tensor, proj_weight: Tensor,
                     proj_bias: Tensor, bias: Tensor, window: int, num_heads: int) -> Tensor:
    """torchvision's ``shifted_window_attention`` shape: sizes come in as arguments."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(-1, window * window, c)
    qkv = F.linear(x, qkv_weight, qkv_bias)
    head_dim = qkv.size(-1) // 3 // num_heads
    qkv = qkv.reshape(x.size(0), x.size(1), 3, num_heads, head_dim).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    attn = (q * head_dim ** -0.5) @ k.transpose(-2, -1) + bias
    x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(x.size(0), x.size(1), -1)
    x = F.linear(x, proj_weight, proj_bias)
    x = x.view(b, h // window, w // window, window, window, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, -1)


class ShiftedWindowAttention(nn.Module):
    def __init__(self, dim: int, window: int, num_heads: int) -> None:
        super().__init__()
        self.window_size, self.num_heads = window, num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(
            0.02 * torch.randn((2 * window - 1) ** 2, num_heads))
        self.register_buffer('relative_position_index', relative_index(window), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        n = self.window_size ** 2
        bias = self.relative_position_bias_table[self.relative_position_index]
        bias = bias.view(n, n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
        return window_attention(x, self.qkv.weight, self.qkv.bias, self.proj.weight,
                                self.proj.bias, bias, self.window_size, self.num_heads)


class FunctionalSwin(nn.Module):
    def __init__(self, num_classes: int = 10, dim: int = 36, heads: int = 3) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, 4, 4)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ShiftedWindowAttention(dim, 4, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch_embed(x).permute(0, 2, 3, 1)
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return self.head(self.norm(x).mean((1, 2)))


class RelPosAttention(nn.Module):
    """MaxViT's attention: ``n_heads``, ``head_dim`` and ``max_seq_len`` are attributes."""

    def __init__(self, feat_dim: int, head_dim: int, max_seq_len: int) -> None:
        super().__init__()
        self.n_heads, self.head_dim = feat_dim // head_dim, head_dim
        self.size, self.max_seq_len = int(math.sqrt(max_seq_len)), max_seq_len
        self.to_qkv = nn.Linear(feat_dim, self.n_heads * self.head_dim * 3)
        self.scale_factor = feat_dim ** -0.5
        self.merge = nn.Linear(self.head_dim * self.n_heads, feat_dim)
        self.relative_position_bias_table = nn.Parameter(
            0.02 * torch.randn((2 * self.size - 1) ** 2, self.n_heads))
        self.register_buffer('relative_position_index', relative_index(self.size),
                             persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        b, g, p, _ = x.shape
        q, k, v = torch.chunk(self.to_qkv(x), 3, dim=-1)
        q, k, v = (t.reshape(b, g, p, self.n_heads, self.head_dim).permute(0, 1, 3, 2, 4)
                   for t in (q, k, v))
        bias = self.relative_position_bias_table[self.relative_position_index]
        bias = bias.view(self.max_seq_len, self.max_seq_len, -1).permute(2, 0, 1).unsqueeze(0)
        # torchvision writes these products with einsum
        dots = torch.einsum('B G H I D, B G H J D -> B G H I J', q, k * self.scale_factor)
        attn = (dots + bias).softmax(-1)
        out = torch.einsum('B G H I J, B G H J D -> B G H I D', attn, v)
        out = out.permute(0, 1, 3, 2, 4).reshape(b, g, p, self.n_heads * self.head_dim)
        return self.merge(out)


class PartitionAttention(nn.Module):
    """Block (``window``) or grid partition of a (B, C, H, W) map, attention inside each."""

    def __init__(self, dim: int, head_dim: int, partition: int, grid: bool) -> None:
        super().__init__()
        self.p, self.grid = partition, grid
        self.norm = nn.LayerNorm(dim)
        self.attn = RelPosAttention(dim, head_dim, partition ** 2)
        self.mlp = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(),
                                 nn.Linear(2 * dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        p = self.p
        if self.grid:  # grid: tokens p apart share a partition
            t = x.reshape(b, c, p, h // p, p, w // p).permute(0, 3, 5, 2, 4, 1)
        else:
            t = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        shape = t.shape
        t = t.reshape(b, (h // p) * (w // p), p * p, c)
        t = t + self.attn(self.norm(t))
        t = t + self.mlp(t)
        t = t.reshape(shape)
        perm = (0, 5, 3, 1, 4, 2) if self.grid else (0, 5, 1, 3, 2, 4)
        return t.permute(*perm).reshape(b, c, h, w)


class MaxViTNet(nn.Module):
    def __init__(self, num_classes: int = 10, dim: int = 32, head_dim: int = 8) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dim, 3, 2, 1), nn.BatchNorm2d(dim), nn.GELU())
        self.mbconv = nn.Sequential(nn.Conv2d(dim, 2 * dim, 1), nn.BatchNorm2d(2 * dim),
                                    nn.GELU(), nn.Conv2d(2 * dim, 2 * dim, 3, 1, 1,
                                                         groups=2 * dim),
                                    nn.GELU(), nn.Conv2d(2 * dim, dim, 1))
        self.block = PartitionAttention(dim, head_dim, 4, grid=False)
        self.grid = PartitionAttention(dim, head_dim, 4, grid=True)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        x = x + self.mbconv(x)
        x = self.grid(self.block(x))
        return self.head(x.mean((2, 3)))
