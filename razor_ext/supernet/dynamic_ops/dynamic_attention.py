"""Self-attention with a fixed head size: the static ``MultiheadSelfAttention`` and Autoformer's
elastic ``DynamicMultiheadAttention`` (elastic number of heads and embedding width)."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext import ops
from razor_ext.supernet.dynamic_ops.dynamic_mixin import DynamicMixin
from razor_ext.registry import MODELS


@MODELS.register_module()
class MultiheadSelfAttention(nn.Module):
    """Multi-head self-attention whose inner width is ``num_heads * head_dims`` (which may differ
    from ``embed_dims``, as in Autoformer). Plain torch layers; exports to ONNX.

    Shapes: ``(N, L, embed_dims)`` -> same.

    Example:
        >>> MultiheadSelfAttention(16, 2, 4)(torch.randn(3, 5, 16)).shape
        torch.Size([3, 5, 16])
    """

    def __init__(self, embed_dims: int, num_heads: int, head_dims: int = 64, bias: bool = True) -> None:
        super().__init__()
        self.embed_dims, self.num_heads, self.head_dims = embed_dims, num_heads, head_dims
        inner = num_heads * head_dims
        self.w_qs = nn.Linear(embed_dims, inner, bias)
        self.w_ks = nn.Linear(embed_dims, inner, bias)
        self.w_vs = nn.Linear(embed_dims, inner, bias)
        self.proj = nn.Linear(inner, embed_dims, bias)

    @staticmethod
    def attend(q: Tensor, k: Tensor, v: Tensor, heads: int, head_dims: int) -> Tensor:
        n, length = q.shape[0], q.shape[1]

        def split(t: Tensor) -> Tensor:
            return t.reshape(n, length, heads, head_dims).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        attn = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(head_dims), dim=-1)
        return (attn @ v).transpose(1, 2).reshape(n, length, heads * head_dims)

    def forward(self, x: Tensor) -> Tensor:
        out = self.attend(self.w_qs(x), self.w_ks(x), self.w_vs(x), self.num_heads, self.head_dims)
        return self.proj(out)


@MODELS.register_module()
class ElasticHeadsMixin(DynamicMixin):
    """Elastic ``num_heads`` (the leading heads) and ``embed_dims`` (the input's width, checked
    against a registered mutable) for an attention module with ``embed_dims`` and ``num_heads``
    attributes: the choice checks every dynamic attention op shares."""

    accepted_mutable_attrs = ('embed_dims', 'num_heads')

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_dynamic()

    def _check_attr_choice(self, attr: str, choice: Any) -> None:
        full = self.embed_dims if attr == 'embed_dims' else self.num_heads
        if not isinstance(choice, int) or not 1 <= choice <= full:
            raise ValueError(f'{type(self).__name__}.{attr}: choice {choice!r} must be an int '
                             f'in [1, {full}]')

    def active_embed_dims(self, x: Tensor) -> int:
        """The input's width, which a registered ``embed_dims`` mutable must agree with."""
        e = self.active('embed_dims', x.shape[-1])
        if e != x.shape[-1]:
            raise ValueError(f'{type(self).__name__}: embed_dims mutable chose {e} but the input '
                             f'has {x.shape[-1]} features')
        self._check_attr_choice('embed_dims', e)
        return e


class DynamicMultiheadAttention(ElasticHeadsMixin, MultiheadSelfAttention):
    """:class:`MultiheadSelfAttention` with elastic ``num_heads`` (leading heads) and
    ``embed_dims`` (the input's width; a registered mutable is checked against it). The
    projections run on :func:`razor_ext.ops.dynamic_linear`.

    Example:
        >>> from razor_ext.supernet.mutables import OneShotMutableValue
        >>> mha = DynamicMultiheadAttention(16, 4, 4)
        >>> heads = OneShotMutableValue([2, 4])
        >>> _ = mha.register_mutable_attr('num_heads', heads); heads.current_choice = 2
        >>> mha(torch.randn(2, 3, 12)).shape, mha.to_static_op().w_qs.weight.shape
        (torch.Size([2, 3, 12]), torch.Size([8, 16]))
    """

    def forward(self, x: Tensor) -> Tensor:
        e = self.active_embed_dims(x)
        heads = self.active('num_heads', self.num_heads)
        inner = heads * self.head_dims
        q, k, v = (ops.dynamic_linear(x, lin.weight, lin.bias, inner)
                   for lin in (self.w_qs, self.w_ks, self.w_vs))
        out = self.attend(q, k, v, heads, self.head_dims)
        return ops.dynamic_linear(out, self.proj.weight, self.proj.bias, e)

    def owned_parameters(self) -> list[nn.Parameter]:
        return list(self.parameters())  # the projections are run by this op, not called

    def count_active_params(self, x: Tensor) -> int:
        e, inner = x.shape[-1], self.active('num_heads', self.num_heads) * self.head_dims
        has_bias = self.proj.bias is not None
        return 3 * (inner * e + inner * has_bias) + e * inner + e * has_bias

    def to_static_op(self) -> MultiheadSelfAttention:
        """A :class:`MultiheadSelfAttention` of the active size with copies of the weights."""
        e = self.active('embed_dims', self.embed_dims)
        heads = self.active('num_heads', self.num_heads)
        inner = heads * self.head_dims
        static = MultiheadSelfAttention(e, heads, self.head_dims, self.proj.bias is not None)
        static.to(self.proj.weight.device, self.proj.weight.dtype)
        with torch.no_grad():
            for name in ('w_qs', 'w_ks', 'w_vs'):
                src, dst = getattr(self, name), getattr(static, name)
                dst.weight.copy_(src.weight[:inner, :e])
                if src.bias is not None:
                    dst.bias.copy_(src.bias[:inner])
            static.proj.weight.copy_(self.proj.weight[:e, :inner])
            if self.proj.bias is not None:
                static.proj.bias.copy_(self.proj.bias[:e])
        return static
