"""``nn.MultiheadAttention`` after its heads or its embedding width were pruned.

Torch's module derives ``head_dim = embed_dim // num_heads`` and so cannot hold 3 heads of 16 on a
64-wide residual stream. Pruning whole heads (or the residual width, or both) keeps the module's
class family: the pruned module is a :class:`PrunedMultiheadAttention`, a subclass with the same
parameters, attributes and ``forward`` signature, whose attention keeps ``head_dim`` fixed and
lets ``num_heads * head_dim`` differ from ``embed_dim``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import handle_torch_function, has_torch_function

__all__ = ['PrunedMultiheadAttention', 'adapt_attention', 'pruned_multi_head_attention_forward']


def _float_mask(mask: Tensor | None, name: str, dtype: torch.dtype) -> Tensor | None:
    """Bool masks (True = not allowed) as additive float masks, as torch's attention does."""
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(mask, float('-inf'))
    if not torch.is_floating_point(mask):
        raise TypeError(f'{name} must be a bool or float tensor, got {mask.dtype}')
    return mask.to(dtype)


def pruned_multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, num_heads: int, head_dim: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
        bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
        out_proj_bias: Tensor | None, training: bool = True, key_padding_mask: Tensor | None = None,
        need_weights: bool = True, attn_mask: Tensor | None = None,
        q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
        v_proj_weight: Tensor | None = None,
        average_attn_weights: bool = True) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention with ``num_heads`` heads of ``head_dim`` each, batch first.

    Same arguments and results as ``F.multi_head_attention_forward`` except ``head_dim`` is given
    (not ``embed_dim // num_heads``) and tensors are batch first: query (N, L, Eq), key (N, S, Ek),
    value (N, S, Ev) -> output (N, L, Eo) and attention weights (N, L, S), or (N, num_heads, L, S)
    with ``average_attn_weights=False``, or None. ``attn_mask``: (L, S) or (N * num_heads, L, S);
    ``key_padding_mask``: (N, S); bool masks mark what may not be attended.

    Example:
        >>> import torch
        >>> w, wo = torch.randn(3 * 2 * 4, 6), torch.randn(6, 2 * 4)
        >>> x = torch.randn(3, 5, 6)
        >>> out, _ = pruned_multi_head_attention_forward(x, x, x, 2, 4, w, None, None, None, False,
        ...                                              0.0, wo, None, need_weights=False)
        >>> out.shape
        torch.Size([3, 5, 6])
    """
    tens_ops = (query, key, value, in_proj_weight, in_proj_bias, bias_k, bias_v, out_proj_weight,
                out_proj_bias)
    if has_torch_function(tens_ops):
        # One call for a TorchFunctionMode (the channel analysis has a rule for it).
        return handle_torch_function(
            pruned_multi_head_attention_forward, tens_ops, query, key, value, num_heads, head_dim,
            in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p,
            out_proj_weight, out_proj_bias, training=training, key_padding_mask=key_padding_mask,
            need_weights=need_weights, attn_mask=attn_mask, q_proj_weight=q_proj_weight,
            k_proj_weight=k_proj_weight, v_proj_weight=v_proj_weight,
            average_attn_weights=average_attn_weights)
    n, tgt, _ = query.shape
    inner = num_heads * head_dim
    if q_proj_weight is None:
        if in_proj_weight is None:
            raise ValueError('attention needs in_proj_weight or q/k/v_proj_weight')
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    else:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias.chunk(3)
    q = F.linear(query, w_q, b_q)
    k = F.linear(key, w_k, b_k)
    v = F.linear(value, w_v, b_v)
    attn_mask = _float_mask(attn_mask, 'attn_mask', q.dtype)
    key_padding_mask = _float_mask(key_padding_mask, 'key_padding_mask', q.dtype)
    extra = []
    if bias_k is not None and bias_v is not None:
        extra.append((bias_k.reshape(1, 1, inner).expand(n, 1, inner),
                      bias_v.reshape(1, 1, inner).expand(n, 1, inner)))
    if add_zero_attn:
        extra.append((q.new_zeros(n, 1, inner), q.new_zeros(n, 1, inner)))
    for ek, ev in extra:
        # One more key/value position, which every mask allows.
        k, v = torch.cat([k, ek], 1), torch.cat([v, ev], 1)
        if attn_mask is not None:
            attn_mask = F.pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = F.pad(key_padding_mask, (0, 1))
    src = k.shape[1]
    q = q.view(n, tgt, num_heads, head_dim).transpose(1, 2)
    k = k.view(n, src, num_heads, head_dim).transpose(1, 2)
    v = v.view(n, src, num_heads, head_dim).transpose(1, 2)
    mask = None  # additive, broadcast to (N, H, L, S)
    if attn_mask is not None:
        if attn_mask.dim() == 3:
            if attn_mask.shape[0] != n * num_heads:
                raise ValueError(f'attn_mask of shape {tuple(attn_mask.shape)}: a 3-D mask needs '
                                 f'batch * num_heads = {n} * {num_heads} masks (num_heads after '
                                 'pruning)')
            attn_mask = attn_mask.view(n, num_heads, tgt, src)
        mask = attn_mask
    if key_padding_mask is not None:
        kpm = key_padding_mask.view(n, 1, 1, src)
        mask = kpm if mask is None else mask + kpm
    dropout = dropout_p if training else 0.0
    if not need_weights:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        out = F.linear(out.transpose(1, 2).reshape(n, tgt, inner), out_proj_weight, out_proj_bias)
        return out, None
    scores = torch.matmul(q * (1.0 / math.sqrt(head_dim)), k.transpose(-2, -1))  # (N, H, L, S)
    if mask is not None:
        scores = scores + mask
    attn = torch.softmax(scores, -1)
    if dropout > 0.0:
        attn = F.dropout(attn, dropout)
    out = torch.matmul(attn, v).transpose(1, 2).reshape(n, tgt, inner)
    out = F.linear(out, out_proj_weight, out_proj_bias)
    return out, (attn.mean(1) if average_attn_weights else attn)


class PrunedMultiheadAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` whose ``num_heads * head_dim`` may differ from ``embed_dim``.

    Not built directly: :func:`adapt_attention` turns a pruned ``nn.MultiheadAttention`` into one
    (same parameters and attributes; ``isinstance(m, nn.MultiheadAttention)`` still holds).
    ``embed_dim`` is the width of the query and output, ``num_heads`` the heads kept, ``head_dim``
    unchanged. ``forward`` takes and returns what ``nn.MultiheadAttention.forward`` does.

    Example:
        >>> import torch
        >>> from razor_ext.pruning import prune
        >>> class Block(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.attn = torch.nn.MultiheadAttention(16, 4, batch_first=True)
        ...     def forward(self, x):
        ...         return x + self.attn(x, x, x, need_weights=False)[0]
        >>> small = prune(Block(), torch.randn(2, 5, 16), ratio=0.5)
        >>> type(small.attn).__name__, small.attn.embed_dim, small.attn.num_heads
        ('PrunedMultiheadAttention', 16, 2)
    """

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        if query.is_nested or key.is_nested or value.is_nested:
            raise ValueError('a pruned MultiheadAttention does not take nested tensors (build '
                             'TransformerEncoder with enable_nested_tensor=False)')
        if is_causal and attn_mask is None:
            raise ValueError('is_causal is a hint: pass the causal attn_mask too (as torch requires)')
        batched = query.dim() == 3
        if not batched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        packed = self.in_proj_weight is not None
        out, weights = pruned_multi_head_attention_forward(
            query, key, value, self.num_heads, self.head_dim, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            q_proj_weight=None if packed else self.q_proj_weight,
            k_proj_weight=None if packed else self.k_proj_weight,
            v_proj_weight=None if packed else self.v_proj_weight,
            average_attn_weights=average_attn_weights)
        if not batched:
            return out.squeeze(0), None if weights is None else weights.squeeze(0)
        if not self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    def _reset_parameters(self) -> None:
        for name in ('in_proj_weight', 'q_proj_weight', 'k_proj_weight', 'v_proj_weight'):
            if getattr(self, name, None) is not None:
                nn.init.xavier_uniform_(getattr(self, name))
        for b in (self.in_proj_bias, self.out_proj.bias):
            if b is not None:
                nn.init.zeros_(b)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                nn.init.xavier_normal_(b)


def adapt_attention(model: nn.Module) -> list[str]:
    """Make every ``nn.MultiheadAttention`` of ``model`` whose kept heads no longer span its
    ``embed_dim`` a :class:`PrunedMultiheadAttention` (in place); returns their names.

    Also turns off torch's fused fast paths that read ``embed_dim`` as the head span:
    ``TransformerEncoderLayer`` skips them when ``_qkv_same_embed_dim`` is False, and a
    ``TransformerEncoder`` holding such a layer stops converting its input to nested tensors.
    """
    changed = []
    for name, m in model.named_modules():
        if not isinstance(m, nn.MultiheadAttention) or isinstance(m, PrunedMultiheadAttention):
            continue
        if m.num_heads * m.head_dim != m.embed_dim:
            m.__class__ = PrunedMultiheadAttention
            changed.append(name)
    for m in model.modules():
        if isinstance(m, PrunedMultiheadAttention):
            m._qkv_same_embed_dim = False
        if isinstance(m, nn.TransformerEncoder) and any(
                isinstance(a, PrunedMultiheadAttention) for a in m.modules()):
            m.use_nested_tensor = False
    return changed
