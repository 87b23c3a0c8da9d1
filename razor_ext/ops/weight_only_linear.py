"""``weight_only_linear``: a linear layer over packed int4 / int8 weights (GPTQ, RTN), dequantised
in registers by the kernel, never as a float weight tensor."""
from __future__ import annotations

import torch
from torch import Tensor

from razor_ext.extension import load_extension
from razor_ext.ops.below_autograd import call_op
from razor_ext.ops.weight_only_pack import dequantize_weight

_FLOATS = (torch.float32, torch.bfloat16, torch.float16)


def weight_only_linear(x: Tensor, packed_weight: Tensor, scales: Tensor, zeros: Tensor,
                       group_size: int, bits: int = 4) -> Tensor:
    """``x @ W.T`` with ``W[n, k] = (q[n, k] - zeros[n, g]) * scales[n, g]``, ``g = k // group_size``.

    The codes ``q`` are packed as :mod:`razor_ext.ops.weight_only_pack` describes (onnxruntime's
    ``MatMulNBits`` layout for 4 bits). Gradients flow to ``x`` only (the weight is frozen; train
    a LoRA adapter beside it).

    Args:
        x: ``(..., K)`` activations, float32, bfloat16 or float16 (computed in float32).
        packed_weight: ``uint8 [N, ceil(K / 2)]`` for 4 bits, ``[N, K]`` for 8 bits.
        scales: ``float32 [N, ceil(K / group_size)]``.
        zeros: ``uint8`` integer zero points, the shape of ``scales``.
        group_size: columns sharing one scale and zero point (> 0; 32, 64 or 128 take the
            vector path).
        bits: 4 or 8.

    Returns:
        ``(..., N)`` in ``x.dtype``.

    Example:
        >>> from razor_ext.ops.weight_only_pack import pack_weight
        >>> q = torch.randint(0, 16, (8, 64))
        >>> packed = pack_weight(q, 4)
        >>> scales, zeros = torch.rand(8, 2), torch.full((8, 2), 8, dtype=torch.uint8)
        >>> weight_only_linear(torch.randn(3, 64), packed, scales, zeros, 32, 4).shape
        torch.Size([3, 8])
    """
    for name, t in (("x", x), ("packed_weight", packed_weight), ("scales", scales), ("zeros", zeros)):
        if not isinstance(t, Tensor):
            raise TypeError(f"weight_only_linear: {name} must be a torch.Tensor, got {type(t).__name__}")
    if isinstance(group_size, bool) or not isinstance(group_size, int):
        raise TypeError(f"weight_only_linear: group_size must be an int, got {type(group_size).__name__}")
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise TypeError(f"weight_only_linear: bits must be an int, got {type(bits).__name__}")
    return call_op(torch.ops.razor_ext.weight_only_linear, x, packed_weight, scales, zeros,
                   group_size, bits)


def weight_only_cpu_path(group_size: int, bits: int = 4) -> str:
    """The CPU path :func:`weight_only_linear` takes for this weight format on this host.

    ``'avx512_bf16'`` (4 bits, group size 32 or a multiple of 64, a CPU with AVX512_BF16:
    one ``vdpbf16ps`` per 32 codes, activations in bf16 parts), ``'avx512'``, ``'avx2'`` or
    ``'scalar'``; ``RAZOR_EXT_ISA`` narrows it and ``RAZOR_EXT_WEIGHT_ONLY_BF16=0`` turns the
    bf16 path off (both read once per process).

    Example:
        >>> weight_only_cpu_path(128, 4) in ("avx512_bf16", "avx512", "avx2", "scalar")
        True
    """
    return str(load_extension().weight_only_cpu_path(int(group_size), int(bits)))


@torch.library.register_fake("razor_ext::weight_only_linear")
def _weight_only_linear_fake(x: Tensor, packed_weight: Tensor, scales: Tensor, zeros: Tensor,
                             group_size: int, bits: int) -> Tensor:
    torch._check(bits in (4, 8), lambda: f"weight_only_linear: bits must be 4 or 8, got {bits}")
    torch._check(group_size > 0, lambda: "weight_only_linear: group_size must be positive")
    torch._check(x.dtype in _FLOATS,
                 lambda: f"weight_only_linear: x must be float32, bfloat16 or float16, got {x.dtype}")
    torch._check(packed_weight.dim() == 2, lambda: "weight_only_linear: packed_weight must be 2-D")
    return x.new_empty((*x.shape[:-1], packed_weight.shape[0]))


def _setup_context(ctx, inputs, output) -> None:
    x, packed_weight, scales, zeros, group_size, bits = inputs
    ctx.save_for_backward(packed_weight, scales, zeros)
    ctx.group_size, ctx.bits, ctx.k, ctx.x_dtype = group_size, bits, x.shape[-1], x.dtype


def _backward(ctx, grad: Tensor):
    packed_weight, scales, zeros = ctx.saved_tensors
    grad_x = None
    if ctx.needs_input_grad[0]:
        # dL/dx = dL/dy @ W: the weight is dequantised here, once per backward (training a
        # frozen quantized base under an adapter is not the latency path).
        w = dequantize_weight(packed_weight, scales, zeros, ctx.group_size, ctx.bits, ctx.k)
        grad_x = (grad.to(torch.float32) @ w).to(ctx.x_dtype)
    return grad_x, None, None, None, None, None


torch.library.register_autograd("razor_ext::weight_only_linear", _backward,
                                setup_context=_setup_context)
