"""Every razor_ext kernel, forward + backward, against its pure-PyTorch twin
(:mod:`razor_ext.ops.reference`, eager ATen ops) in the same run."""
from __future__ import annotations

from collections.abc import Callable

import torch

from razor_ext import ops
from razor_ext.bench.report import BenchRow
from razor_ext.bench.timing import round_robin
from razor_ext.ops import reference


def _fwd_bwd(fn: Callable[..., torch.Tensor], inputs: list[torch.Tensor], *args: object) -> Callable[[], object]:
    def run() -> object:
        out = fn(*inputs, *args)
        out = out if isinstance(out, torch.Tensor) else torch.stack([o.sum() for o in out])
        return torch.autograd.grad(out.sum(), [t for t in inputs if t.requires_grad], allow_unused=True)
    return run


def kernel_rows(quick: bool, device: torch.device) -> list[BenchRow]:
    """One row per kernel: razor_ext op vs the eager reference, fwd + bwd.

    ``bw_pct``: a bytes model per element (float32, fwd + bwd: fake quant 18 B = read x, write y
    and a 1-byte mask, read g, write dx; LSQ 20 B; KD reductions 16 B = read both logits, write
    the saved gradient, then scale it; channel norms 4 B, read once) divided by the bandwidth
    of a plain copy of the same element count, timed in the same rounds (8 B per element).

    Example:
        >>> rows = kernel_rows(True, torch.device('cpu'))  # doctest: +SKIP
    """
    act = (8, 32, 28, 28) if quick else (32, 64, 56, 56)
    logits = (256, 1000) if quick else (1024, 1000)
    rounds = 5 if quick else 20
    x = torch.randn(act, device=device, requires_grad=True)
    s = torch.tensor([0.05], device=device, requires_grad=True)
    z = torch.tensor([0.0], device=device)
    ls, lt = torch.randn(logits, device=device, requires_grad=True), torch.randn(logits, device=device)
    fs, ft = torch.randn(act, device=device, requires_grad=True), torch.randn(act, device=device)
    w = torch.randn(64, 64, 3, 3, device=device, requires_grad=True)
    xin = torch.randn(act[0], 32, 28, 28, device=device, requires_grad=True)
    lw = torch.randn(1024, 1024, device=device, requires_grad=True)
    lx = torch.randn(256, 512, device=device, requires_grad=True)
    convs = [torch.randn(256, 128, 3, 3, device=device) for _ in range(4)]
    index = torch.arange(0, 256, 2, device=device)

    cases: list[tuple[str, tuple[int, ...], int, Callable[[], object], Callable[[], object]]] = [
        ('fake_quantize', act, 18, _fwd_bwd(lambda t: ops.fake_quantize(t, 0.05, 0, -128, 127), [x]),
         _fwd_bwd(lambda t: reference.fake_quantize(t, 0.05, 0, -128, 127), [x])),
        ('lsq_fake_quantize', act, 20,
         _fwd_bwd(lambda t, sc: ops.lsq_fake_quantize(t, sc, z, -128, 127), [x, s]),
         _fwd_bwd(lambda t, sc: reference.lsq_fake_quantize(t, sc, z, -128, 127), [x, s])),
        ('kd_kl_div', logits, 16, _fwd_bwd(lambda a: ops.kd_kl_div(a, lt, tau=4.0), [ls]),
         _fwd_bwd(lambda a: reference.kd_kl_div(a, lt, tau=4.0), [ls])),
        ('cwd_loss', act, 16, _fwd_bwd(lambda a: ops.cwd_loss(a, ft, tau=4.0), [fs]),
         _fwd_bwd(lambda a: reference.cwd_loss(a, ft, tau=4.0), [fs])),
        ('channel_norms', (4, 256, 128, 3, 3), 4, lambda: ops.channel_norms(convs, [0] * 4),
         lambda: reference.channel_norms(convs, [0] * 4)),
        ('channel_gather', (4, 256, 128, 3, 3), 4, lambda: ops.channel_gather(convs, index, [0] * 4),
         lambda: reference.channel_gather(convs, index, [0] * 4)),
        ('dynamic_conv2d (48/64 out)', tuple(xin.shape), 0,
         _fwd_bwd(lambda a, b: ops.dynamic_conv2d(a, b, out_channels=48, padding=1), [xin, w]),
         _fwd_bwd(lambda a, b: reference.dynamic_conv2d(a, b, out_channels=48, padding=1), [xin, w])),
        ('dynamic_linear (768/1024 out)', tuple(lx.shape), 0,
         _fwd_bwd(lambda a, b: ops.dynamic_linear(a, b, out_features=768), [lx, lw]),
         _fwd_bwd(lambda a, b: reference.dynamic_linear(a, b, out_features=768), [lx, lw])),
    ]
    rows = []
    for name, shape, bytes_per_el, ours, base in cases:
        numel = 1
        for d in shape:
            numel *= d
        src = torch.randn(numel, device=device)
        dst = torch.empty_like(src)
        t = round_robin({'ours': ours, 'base': base, 'copy': lambda: dst.copy_(src)}, rounds=rounds,
                        warmup=2, device=device)
        bw = round(100 * bytes_per_el / 8 * t['copy'] / t['ours'], 1) if bytes_per_el else None
        rows.append(BenchRow(name, str(shape), 'float32', device.type, round(t['ours'] * 1e3, 3),
                             'eager reference', round(t['base'] * 1e3, 3), bw))
    return rows
