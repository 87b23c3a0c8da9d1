"""FLOP formulas of razor_ext's own ops for torch's ``FlopCounterMode`` (which counts an op it
has no formula for as 0: a supernet of dynamic ops would look free)."""
from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import register_flop_formula, sdpa_flop

import razor_ext.ops  # noqa: F401  (registers torch.ops.razor_ext.*)


@register_flop_formula(torch.ops.razor_ext.dynamic_conv2d)
def dynamic_conv2d_flops(x_shape: Any, w_shape: Any, _bias: Any, _out: Any, _stride: Any,
                         _padding: Any, _dilation: Any, groups: int, kernel_size: int | None,
                         *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """2 x multiply-adds of the active sub-conv: out elements x in-channels per group x k x k."""
    k = w_shape[-1] if kernel_size is None else kernel_size
    cin_per_group = x_shape[1] // groups
    n, cout, h, w = out_shape
    return 2 * n * cout * h * w * cin_per_group * k * k


@register_flop_formula(torch.ops.razor_ext.dynamic_linear)
def dynamic_linear_flops(x_shape: Any, _w_shape: Any, _bias: Any, _out: Any, *args: Any,
                         out_shape: Any = None, **kwargs: Any) -> int:
    """2 x multiply-adds: output elements x active in-features."""
    return 2 * x_shape[-1] * int(torch.Size(out_shape).numel())


@register_flop_formula(torch.ops.aten._scaled_dot_product_flash_attention_for_cpu)
def cpu_sdpa_flops(q_shape: Any, k_shape: Any, v_shape: Any, *args: Any, out_shape: Any = None,
                   **kwargs: Any) -> int:
    """Torch counts its CUDA attention kernels but not the CPU one (0 FLOPs): the two batched
    matmuls, Q K^T and P V, as torch's CUDA formula does."""
    return sdpa_flop(q_shape, k_shape, v_shape)


@register_flop_formula(torch.ops.aten._native_multi_head_attention)
def native_mha_flops(q_shape: Any, k_shape: Any, v_shape: Any, embed_dim: int, num_heads: int,
                     *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """``nn.MultiheadAttention``'s fused inference path (eval, no grad), which torch counts as 0:
    the q / k / v and output projections and the two attention matmuls."""
    n, tgt, e = q_shape
    src = k_shape[1]
    projections = 2 * e * embed_dim * (2 * n * tgt + n * src + n * src)  # q, out; k, v
    return projections + 4 * n * tgt * src * embed_dim


@register_flop_formula(torch.ops.aten._transformer_encoder_layer_fwd)
def encoder_layer_flops(src_shape: Any, embed_dim: int, num_heads: int, *args: Any,
                        out_shape: Any = None, **kwargs: Any) -> int:
    """``nn.TransformerEncoderLayer``'s fused inference path, which torch counts as 0: its
    self-attention plus the two feed-forward linears."""
    ffn_weight_1 = args[11]
    n, length, e = src_shape
    attention = native_mha_flops(src_shape, src_shape, src_shape, embed_dim, num_heads)
    return attention + 2 * 2 * n * length * e * ffn_weight_1[0]
