"""A Phi-3-style decoder: one fused ``qkv_proj`` cut at fixed offsets computed from head-count
attributes (``q_pos = self.num_heads * self.head_dim``), grouped-query attention, a fused
gate/up projection cut by ``chunk``, and a model whose fused projection is cut at offsets that
are no attribute (so its heads stay whole)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tests.pruning.zoo.lang_attrs import FusedSwiGLU
from tests.pruning.zoo.llm import RMSNorm, repeat_kv


class SlicedQKVAttention(nn.Module):
    """``qkv[..., :q_pos]``, ``qkv[..., q_pos:q_pos + kv]``, ``qkv[..., q_pos + kv:]``."""

    def __init__(self, hidden: int, heads: int, kv_heads: int, head_dim: int) -> None:
        super().__init__()
        self.num_heads, self.num_key_value_heads, self.head_dim = heads, kv_heads, head_dim
        self.qkv_proj = nn.Linear(hidden, (heads + 2 * kv_heads) * head_dim, bias=True)
        self.o_proj = nn.Linear(heads * head_dim, hidden, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, t, _ = x.shape
        qkv = self.qkv_proj(x)
        q_pos = self.num_heads * self.head_dim
        kv = self.num_key_value_heads * self.head_dim
        q, k, v = qkv[..., :q_pos], qkv[..., q_pos:q_pos + kv], qkv[..., q_pos + kv:]
        q, k, v = (s.reshape(b, t, -1, self.head_dim).transpose(1, 2) for s in (q, k, v))
        groups = q.shape[1] // k.shape[1]
        k, v = repeat_kv(k, groups), repeat_kv(v, groups)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class FixedOffsetAttention(SlicedQKVAttention):
    """The same, but the offsets are literals written in the code: no attribute to update."""

    def forward(self, x: Tensor) -> Tensor:
        b, t, _ = x.shape
        qkv = self.qkv_proj(x)
        q, k, v = qkv[..., :48], qkv[..., 48:72], qkv[..., 72:]
        q, k, v = (s.reshape(b, t, -1, 12).transpose(1, 2) for s in (q, k, v))
        k, v = repeat_kv(k, 2), repeat_kv(v, 2)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class SlicedQKVLM(nn.Module):
    """hidden 32, 4 query heads of 12 in 2 KV groups, fused gate/up, untied head.

    Example:
        >>> SlicedQKVLM()(torch.randint(0, 96, (2, 10))).shape
        torch.Size([2, 10, 96])
    """

    def __init__(self, vocab: int = 96, hidden: int = 32, heads: int = 4, kv_heads: int = 2,
                 head_dim: int = 12, inner: int = 40, layers: int = 2,
                 attention: type = SlicedQKVAttention) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(nn.ModuleDict({
                'ln1': RMSNorm(hidden), 'attn': attention(hidden, heads, kv_heads, head_dim),
                'ln2': RMSNorm(hidden), 'mlp': FusedSwiGLU(hidden, inner)}))
        self.norm = RMSNorm(hidden)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)

    def forward(self, ids: Tensor) -> Tensor:
        x = self.embed(ids)
        for blk in self.blocks:
            x = x + blk['attn'](blk['ln1'](x))
            x = x + blk['mlp'](blk['ln2'](x))
        return self.lm_head(self.norm(x))
