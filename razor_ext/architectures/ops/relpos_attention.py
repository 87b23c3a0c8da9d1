"""Autoformer's attention: multi-head self-attention with 2-D relative position encodings
(iRPE, Wu et al. 2021) and fixed 64-wide heads, static and elastic (MMRazor's
``MultiheadAttention`` / ``DynamicMultiheadAttention`` of ``ops/transformer_series``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.supernet.dynamic_ops.dynamic_attention import ElasticHeadsMixin


def relative_position_index(num_tokens: int, max_distance: int) -> tuple[Tensor, Tensor]:
    """Row and column index tables ``(num_tokens, num_tokens)`` into the iRPE embedding tables.

    Token 0 is the class token (index 0 against everything); the others are the patches of a
    square grid. Patch pair (i, j) indexes the clamped row / column offset of j from i, shifted
    by ``max_distance + 1``.

    Example:
        >>> rows, cols = relative_position_index(5, 14)  # cls + a 2x2 grid
        >>> rows[1:, 1:].tolist(), cols[0].tolist()
        ([[15, 15, 16, 16], [15, 15, 16, 16], [14, 14, 15, 15], [14, 14, 15, 15]], [0, 0, 0, 0, 0])
    """
    patches = num_tokens - 1
    side = int(patches ** 0.5)
    if side * side != patches:
        raise ValueError(f'relative positions need a square patch grid, got {patches} patches')
    pos = torch.arange(patches)
    rows = (pos[None, :] // side - pos[:, None] // side).clamp(-max_distance, max_distance)
    cols = (pos[None, :] % side - pos[:, None] % side).clamp(-max_distance, max_distance)
    pad = (1, 0, 1, 0)
    return (F.pad(rows + max_distance + 1, pad), F.pad(cols + max_distance + 1, pad))


class RelativePosition2D(nn.Module):
    """iRPE tables: ``embeddings_table_v`` / ``_h`` ``(2 * max + 2, head_dims)``; forward gives
    the ``(N, N, head_dims)`` encodings of ``N`` tokens (row + column embedding)."""

    def __init__(self, head_dims: int, max_relative_position: int = 14) -> None:
        super().__init__()
        self.head_dims, self.max_relative_position = head_dims, max_relative_position
        self.embeddings_table_v = nn.Parameter(torch.empty(max_relative_position * 2 + 2, head_dims))
        self.embeddings_table_h = nn.Parameter(torch.empty(max_relative_position * 2 + 2, head_dims))
        nn.init.trunc_normal_(self.embeddings_table_v, std=0.02)
        nn.init.trunc_normal_(self.embeddings_table_h, std=0.02)

    def forward(self, num_tokens: int) -> Tensor:
        rows, cols = relative_position_index(num_tokens, self.max_relative_position)
        device = self.embeddings_table_v.device
        return self.embeddings_table_v[rows.to(device)] + self.embeddings_table_h[cols.to(device)]


class RelPosMultiheadAttention(nn.Module):
    """Self-attention with ``num_heads`` heads of ``head_dims`` (64) and iRPE on keys and values.

    ``attn = softmax(q k^T s + (q . r_k) s)``, ``out = proj(attn v + attn . r_v)`` with
    ``s = head_dims ** -0.5`` and ``r_k``, ``r_v`` the relative encodings of each token pair.
    Parameter names are MMRazor's (``w_qs``, ``w_ks``, ``w_vs``, ``proj``, ``rel_pos_embed_k``,
    ``rel_pos_embed_v``).

    Shapes: ``(B, N, embed_dims)`` -> same; ``N - 1`` must be a square (cls + patch grid).

    Example:
        >>> attn = RelPosMultiheadAttention(32, 2, head_dims=8)
        >>> attn(torch.randn(2, 5, 32)).shape
        torch.Size([2, 5, 32])
    """

    def __init__(self, embed_dims: int, num_heads: int, head_dims: int = 64,
                 qkv_bias: bool = True, relative_position: bool = True,
                 max_relative_position: int = 14, attn_drop_rate: float = 0.0,
                 proj_drop_rate: float = 0.0) -> None:
        super().__init__()
        self.embed_dims, self.num_heads, self.head_dims = embed_dims, num_heads, head_dims
        self.relative_position, self.max_relative_position = relative_position, max_relative_position
        self.scale = head_dims ** -0.5
        inner = num_heads * head_dims
        self.w_qs = nn.Linear(embed_dims, inner, bias=qkv_bias)
        self.w_ks = nn.Linear(embed_dims, inner, bias=qkv_bias)
        self.w_vs = nn.Linear(embed_dims, inner, bias=qkv_bias)
        self.proj = nn.Linear(inner, embed_dims)
        self.attn_drop, self.proj_drop = nn.Dropout(attn_drop_rate), nn.Dropout(proj_drop_rate)
        if relative_position:
            self.rel_pos_embed_k = RelativePosition2D(head_dims, max_relative_position)
            self.rel_pos_embed_v = RelativePosition2D(head_dims, max_relative_position)

    @staticmethod
    def _sliced(layer: nn.Linear, rows: int, cols: int) -> tuple[Tensor, Tensor | None]:
        bias = None if layer.bias is None else layer.bias[:rows]
        return layer.weight[:rows, :cols], bias

    def attend(self, x: Tensor, heads: int) -> Tensor:
        """The attention of the first ``heads`` heads on ``x``'s width (weights sliced)."""
        b, n, e = x.shape
        inner = heads * self.head_dims

        def project(layer: nn.Linear) -> Tensor:
            out = F.linear(x, *self._sliced(layer, inner, e))
            return out.reshape(b, n, heads, self.head_dims).transpose(1, 2)

        q, k, v = project(self.w_qs), project(self.w_ks), project(self.w_vs)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        if self.relative_position:
            attn = attn + torch.einsum('bhid,ijd->bhij', q, self.rel_pos_embed_k(n)) * self.scale
        attn = self.attn_drop(attn.softmax(dim=-1))
        out = attn @ v
        if self.relative_position:
            out = out + torch.einsum('bhij,ijd->bhid', attn, self.rel_pos_embed_v(n))
        out = out.transpose(1, 2).reshape(b, n, inner)
        return self.proj_drop(F.linear(out, *self._sliced(self.proj, e, inner)))

    def forward(self, x: Tensor) -> Tensor:
        return self.attend(x, self.num_heads)


class DynamicRelPosMultiheadAttention(ElasticHeadsMixin, RelPosMultiheadAttention):
    """:class:`RelPosMultiheadAttention` with an elastic number of heads (the leading ones) and
    embedding width (the input's; a registered ``embed_dims`` mutable is checked against it).

    Example:
        >>> from razor_ext.supernet.mutables import OneShotMutableValue
        >>> attn = DynamicRelPosMultiheadAttention(32, 4, head_dims=8)
        >>> heads = OneShotMutableValue([2, 4])
        >>> _ = attn.register_mutable_attr('num_heads', heads); heads.current_choice = 2
        >>> attn(torch.randn(2, 5, 24)).shape, attn.to_static_op().w_qs.weight.shape
        (torch.Size([2, 5, 24]), torch.Size([16, 32]))
    """

    def forward(self, x: Tensor) -> Tensor:
        self.active_embed_dims(x)
        return self.attend(x, self.active('num_heads', self.num_heads))

    def owned_parameters(self) -> list[nn.Parameter]:
        return list(self.parameters())

    def count_active_params(self, x: Tensor) -> int:
        e, inner = x.shape[-1], self.active('num_heads', self.num_heads) * self.head_dims
        tables = sum(p.numel() for n, p in self.named_parameters() if 'rel_pos' in n)
        return 3 * (inner * e + inner) + e * inner + e + tables

    def to_static_op(self) -> RelPosMultiheadAttention:
        """A :class:`RelPosMultiheadAttention` of the active size with copies of the weights."""
        e = self.active('embed_dims', self.embed_dims)
        heads = self.active('num_heads', self.num_heads)
        inner = heads * self.head_dims
        static = RelPosMultiheadAttention(e, heads, self.head_dims, self.w_qs.bias is not None,
                                          self.relative_position, self.max_relative_position,
                                          self.attn_drop.p, self.proj_drop.p)
        static.to(self.proj.weight.device, self.proj.weight.dtype)
        with torch.no_grad():
            for name in ('w_qs', 'w_ks', 'w_vs'):
                weight, bias = self._sliced(getattr(self, name), inner, e)
                getattr(static, name).weight.copy_(weight)
                if bias is not None:
                    getattr(static, name).bias.copy_(bias)
            weight, bias = self._sliced(self.proj, e, inner)
            static.proj.weight.copy_(weight)
            static.proj.bias.copy_(bias)
            if self.relative_position:
                static.rel_pos_embed_k.load_state_dict(self.rel_pos_embed_k.state_dict())
                static.rel_pos_embed_v.load_state_dict(self.rel_pos_embed_v.state_dict())
        return static.train(self.training)
