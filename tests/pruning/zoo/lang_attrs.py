"""Language transformers whose code reads sizes from attributes: a decoder whose ``head_dim`` is
not ``hidden / heads`` (fused gate/up SwiGLU, learned positions, tied embeddings), a GPT-2-style
model on ``Conv1D`` layers (weights stored ``[in, out]``, fused qkv split by ``split_size``), a
BERT-style encoder (token types, pooler, ``all_head_size``), and a model one of whose sizes is
computed where the trace cannot see it."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tests.pruning.zoo.llm import RMSNorm


class HeadDimAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.num_heads, self.head_dim = heads, head_dim
        self.q_proj = nn.Linear(hidden, heads * head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, heads * head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, heads * head_dim, bias=False)
        self.o_proj = nn.Linear(heads * head_dim, hidden, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, t, _ = x.shape
        q, k, v = (p(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.num_heads * self.head_dim))


class FusedSwiGLU(nn.Module):
    """Fused gate/up projection; SwiGLU (``act='silu'``) or GeGLU (``act='gelu'``)."""

    def __init__(self, hidden: int, inner: int, act: str = 'silu') -> None:
        super().__init__()
        self.act = F.silu if act == 'silu' else F.gelu
        self.gate_up_proj = nn.Linear(hidden, 2 * inner, bias=False)
        self.down_proj = nn.Linear(inner, hidden, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(self.act(gate) * up)


class HeadDimLM(nn.Module):
    """hidden 32, 4 heads of 12 (q/k/v 48 wide), tied input/output embeddings."""

    def __init__(self, vocab: int = 96, hidden: int = 32, heads: int = 4, head_dim: int = 12,
                 inner: int = 40, layers: int = 2, max_len: int = 16, act: str = 'silu') -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.pos = nn.Embedding(max_len, hidden)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(nn.ModuleDict({
                'ln1': RMSNorm(hidden), 'attn': HeadDimAttention(hidden, heads, head_dim),
                'ln2': RMSNorm(hidden), 'mlp': FusedSwiGLU(hidden, inner, act)}))
        self.norm = RMSNorm(hidden)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)
        self.lm_head.weight = self.embed.weight

    def forward(self, ids: Tensor) -> Tensor:
        x = self.embed(ids) + self.pos(torch.arange(ids.shape[1]))
        for blk in self.blocks:
            x = x + blk['attn'](blk['ln1'](x))
            x = x + blk['mlp'](blk['ln2'](x))
        return self.lm_head(self.norm(x))


class Conv1D(nn.Module):
    """GPT-2's layer: ``weight`` is ``[in, out]``, the output width is ``self.nf``."""

    def __init__(self, nf: int, nx: int) -> None:
        super().__init__()
        self.nf, self.nx = nf, nx
        self.weight = nn.Parameter(0.02 * torch.randn(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x: Tensor) -> Tensor:
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


class GPT2Attention(nn.Module):
    def __init__(self, embed: int, heads: int) -> None:
        super().__init__()
        self.embed_dim, self.num_heads = embed, heads
        self.head_dim = embed // heads
        self.split_size = embed
        self.c_attn = Conv1D(3 * embed, embed)
        self.c_proj = Conv1D(embed, embed)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self.c_attn(x).split(self.split_size, dim=2)
        shape = (*q.shape[:-1], -1, self.head_dim)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(out.transpose(1, 2).reshape(*x.shape[:-1], -1).contiguous())


class GPT2Block(nn.Module):
    def __init__(self, embed: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(embed)
        self.attn = GPT2Attention(embed, heads)
        self.ln_2 = nn.LayerNorm(embed)
        self.c_fc = Conv1D(4 * embed, embed)
        self.c_proj = Conv1D(embed, 4 * embed)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate='tanh'))


class GPT2Like(nn.Module):
    def __init__(self, vocab: int = 96, embed: int = 48, heads: int = 4, layers: int = 2,
                 max_len: int = 16) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, embed)
        self.wpe = nn.Embedding(max_len, embed)
        self.h = nn.ModuleList([GPT2Block(embed, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(embed)
        self.lm_head = nn.Linear(embed, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, ids: Tensor) -> Tensor:
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for blk in self.h:
            x = blk(x)
        return self.lm_head(self.ln_f(x))


class BertSelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.num_attention_heads = heads
        self.attention_head_size = hidden // heads
        self.all_head_size = heads * self.attention_head_size
        self.query = nn.Linear(hidden, self.all_head_size)
        self.key = nn.Linear(hidden, self.all_head_size)
        self.value = nn.Linear(hidden, self.all_head_size)

    def split(self, x: Tensor) -> Tensor:
        shape = x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)
        return x.view(shape).permute(0, 2, 1, 3)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = q @ k.transpose(-1, -2) / self.attention_head_size ** 0.5
        ctx = (scores.softmax(-1) @ v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.size()[:-2] + (self.all_head_size,))


class BertLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, inner: int) -> None:
        super().__init__()
        self.attention = BertSelfAttention(hidden, heads)
        self.attn_out = nn.Linear(hidden, hidden)
        self.ln1 = nn.LayerNorm(hidden)
        self.intermediate = nn.Linear(hidden, inner)
        self.output = nn.Linear(inner, hidden)
        self.ln2 = nn.LayerNorm(hidden)

    def forward(self, x: Tensor) -> Tensor:
        x = self.ln1(x + self.attn_out(self.attention(x)))
        return self.ln2(x + self.output(F.gelu(self.intermediate(x))))


class BertLike(nn.Module):
    """Encoder only: word + learned position + token type embeddings, a [CLS] pooler."""

    def __init__(self, vocab: int = 96, hidden: int = 40, heads: int = 5, inner: int = 72,
                 layers: int = 2, max_len: int = 16, num_labels: int = 3) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(max_len, hidden)
        self.token_type_embeddings = nn.Embedding(2, hidden)
        self.emb_ln = nn.LayerNorm(hidden)
        self.layers = nn.ModuleList([BertLayer(hidden, heads, inner) for _ in range(layers)])
        self.pooler = nn.Linear(hidden, hidden)
        self.classifier = nn.Linear(hidden, num_labels)

    def forward(self, ids: Tensor) -> Tensor:
        types = (torch.arange(ids.shape[1]) >= ids.shape[1] // 2).long().expand_as(ids)
        x = self.word_embeddings(ids) + self.position_embeddings(torch.arange(ids.shape[1]))
        x = self.emb_ln(x + self.token_type_embeddings(types))
        for layer in self.layers:
            x = layer(x)
        return self.classifier(torch.tanh(self.pooler(x[:, 0])))


class UntraceableSize(nn.Module):
    """``fc1``'s 40 outputs are viewed as ``self.layout`` = (5, 8): a tuple, so neither size is an
    integer attribute the trace can bind, nor a size read from a tensor: fc1's unit must stay
    whole while ``fc0``'s prunes."""

    def __init__(self) -> None:
        super().__init__()
        self.layout = (5, 8)
        self.fc0 = nn.Linear(16, 24)
        self.fc1 = nn.Linear(24, 40)
        self.fc2 = nn.Linear(40, 4)

    def forward(self, x: Tensor) -> Tensor:
        h = self.fc1(F.relu(self.fc0(x)))
        h = h.view(x.shape[0], self.layout[0], self.layout[1]).relu()
        return self.fc2(h.flatten(1))
