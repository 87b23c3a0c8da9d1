"""Post-training compression of a small Llama-style causal LM, trained here on text shipped with
Python itself (the standard library's own source files), measured by held-out perplexity:
float, RTN int4, GPTQ int4, magnitude 50%, SparseGPT 50% and SparseGPT 2:4.

Nothing is downloaded: the text is read from the running interpreter's standard library
(``sysconfig.get_paths()['stdlib']``), byte-level tokens (vocabulary 256), 90% / 10% split by file.
The model (written here: RMSNorm, rotary attention, SwiGLU MLP, ``model.layers`` as the block
list GPTQ / SparseGPT walk) trains in a few minutes on two CPU threads.

Run:  PYTHONPATH=. python examples/llm_compress_stdlib.py [--steps 600] [--seeds 3] [--out results.md]
      PYTHONPATH=. python examples/llm_compress_stdlib.py --quick   (a smoke run, seconds)
"""
from __future__ import annotations

import argparse
import copy
import math
import statistics
import sysconfig
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from razor_ext.pruning import sparse_gpt
from razor_ext.quantization import gptq


def stdlib_bytes(max_bytes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, held-out) uint8 tensors of stdlib source text; every 10th file is held out."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.glob("*.py") if p.is_file())
    train, held = bytearray(), bytearray()
    for i, path in enumerate(files):
        data = path.read_bytes()
        (held if i % 10 == 9 else train).extend(data)
        if len(train) >= max_bytes and len(held) >= max_bytes // 9:
            break
    return (torch.frombuffer(bytearray(train[:max_bytes]), dtype=torch.uint8).long(),
            torch.frombuffer(bytearray(held[:max_bytes // 9]), dtype=torch.uint8).long())


class RMSNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight


def rotary(x: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding of ``(B, heads, T, head_dim)``."""
    t, d = x.shape[-2], x.shape[-1]
    freq = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
    angle = torch.arange(t, dtype=torch.float32)[:, None] * freq[None, :]
    cos, sin = angle.cos(), angle.sin()
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), -1).flatten(-2)


class Block(nn.Module):
    """Pre-norm Llama block: attention (q/k/v/o projections) and SwiGLU MLP (gate/up/down)."""

    def __init__(self, dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.heads = heads
        self.attn_norm, self.mlp_norm = RMSNorm(dim), RMSNorm(dim)
        self.q_proj, self.k_proj = nn.Linear(dim, dim, bias=False), nn.Linear(dim, dim, bias=False)
        self.v_proj, self.o_proj = nn.Linear(dim, dim, bias=False), nn.Linear(dim, dim, bias=False)
        self.gate_proj, self.up_proj = nn.Linear(dim, hidden, bias=False), nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, t, d = h.shape
        x = self.attn_norm(h)
        q, k, v = (p(x).reshape(b, t, self.heads, -1).transpose(1, 2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        a = F.scaled_dot_product_attention(rotary(q), rotary(k), v, is_causal=True)
        h = h + self.o_proj(a.transpose(1, 2).reshape(b, t, d))
        x = self.mlp_norm(h)
        return h + self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class TinyLlama(nn.Module):
    """Byte-level Llama-style causal LM; ``forward(tokens (B, T)) -> logits (B, T, 256)``."""

    def __init__(self, dim: int = 256, layers: int = 4, heads: int = 4, hidden: int = 768) -> None:
        super().__init__()
        self.embed = nn.Embedding(256, dim)
        self.layers = nn.ModuleList([Block(dim, heads, hidden) for _ in range(layers)])
        self.norm = RMSNorm(dim)
        self.lm_head = nn.Linear(dim, 256, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens)
        for block in self.layers:
            h = block(h)
        return self.lm_head(self.norm(h))


def windows(data: torch.Tensor, count: int, length: int, gen: torch.Generator) -> torch.Tensor:
    starts = torch.randint(0, len(data) - length - 1, (count,), generator=gen)
    return torch.stack([data[s:s + length + 1] for s in starts.tolist()])


def train(model: nn.Module, data: torch.Tensor, steps: int, length: int, batch: int) -> None:
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps,
                                                pct_start=max(0.05, 3 / steps))
    model.train()
    for step in range(steps):
        w = windows(data, batch, length, gen)
        loss = F.cross_entropy(model(w[:, :-1]).flatten(0, 1), w[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % max(1, steps // 10) == 0:
            print(f"  step {step:5d}  loss {loss.item():.3f}", flush=True)
    model.eval()


@torch.no_grad()
def perplexity(model: nn.Module, data: torch.Tensor, length: int) -> float:
    """exp(mean next-byte cross entropy) over consecutive windows of the held-out text."""
    chunks = data[:len(data) // (length + 1) * (length + 1)].reshape(-1, length + 1)
    total, count = 0.0, 0
    for i in range(0, len(chunks), 16):
        c = chunks[i:i + 16]
        total += F.cross_entropy(model(c[:, :-1]).flatten(0, 1), c[:, 1:].flatten(), reduction="sum").item()
        count += c[:, 1:].numel()
    return math.exp(total / count)


def run(steps: int, max_bytes: int, length: int = 128, calib: int = 64, dim: int = 192,
        layers: int = 4, hidden: int | None = None, seeds: int = 1, act_order: bool = False,
        per_channel: bool = False, checkpoint: Path | None = None,
        batch: int = 16) -> list[tuple[str, list[float], float]]:
    """Train (or load ``checkpoint``), compress, return ``[(arm, perplexities, seconds)]``.

    Arms that calibrate run once per calibration seed (``seeds`` disjoint draws of ``calib``
    windows); RTN and magnitude need no data and run once."""
    torch.manual_seed(0)
    train_data, held = stdlib_bytes(max_bytes)
    print(f"text: {len(train_data)} train / {len(held)} held-out bytes of stdlib source")
    model = TinyLlama(dim=dim, layers=layers, hidden=hidden or 3 * dim)
    if checkpoint is not None and checkpoint.exists():
        model.load_state_dict(torch.load(checkpoint))
        model.eval()
        print(f"loaded the trained model from {checkpoint}")
    else:
        t0 = time.perf_counter()
        train(model, train_data, steps, length, batch=batch)
        print(f"trained in {time.perf_counter() - t0:.0f} s")
        if checkpoint is not None:
            torch.save(model.state_dict(), checkpoint)

    def calib_for(seed: int) -> list[torch.Tensor]:
        return [w[None, :-1] for w in windows(train_data, calib, length, torch.Generator().manual_seed(1 + seed))]

    arms = [("float", False, lambda m, c: m),
            ("RTN int4 g128", False, lambda m, c: gptq(m, None, bits=4, group_size=128, method="rtn")),
            ("GPTQ int4 g128", True, lambda m, c: gptq(m, c, bits=4, group_size=128, act_order=act_order)),
            ("magnitude 50%", False, lambda m, c: sparse_gpt(m, None, sparsity=0.5, method="magnitude")),
            ("SparseGPT 50%", True, lambda m, c: sparse_gpt(m, c, sparsity=0.5)),
            ("SparseGPT 2:4", True, lambda m, c: sparse_gpt(m, c, pattern="2:4"))]
    if per_channel:  # one scale per output row: rounding error large enough to separate the two
        arms += [("RTN int4 per-channel", False, lambda m, c: gptq(m, None, bits=4, group_size=-1, method="rtn")),
                 ("GPTQ int4 per-channel", True,
                  lambda m, c: gptq(m, c, bits=4, group_size=-1, act_order=act_order))]
    rows = []
    for name, calibrates, compress in arms:
        ppls, seconds = [], 0.0
        for seed in range(seeds if calibrates else 1):
            t0 = time.perf_counter()
            compressed = compress(copy.deepcopy(model), calib_for(seed) if calibrates else None)
            seconds += time.perf_counter() - t0
            ppls.append(perplexity(compressed, held, length))
        rows.append((name, ppls, seconds / len(ppls)))
        print(f"  {name:<16} perplexity {' '.join(f'{p:.4f}' for p in ppls)}  ({rows[-1][2]:.1f} s)", flush=True)
    return rows


def table(rows: list[tuple[str, list[float], float]]) -> str:
    base = statistics.mean(rows[0][1])
    lines = ["| arm | held-out perplexity (bytes) | std over calibration seeds | vs float | compress time |",
             "|---|---|---|---|---|"]
    for name, ppls, seconds in rows:
        ppl = statistics.mean(ppls)
        std = f"{statistics.stdev(ppls):.4f} (n={len(ppls)})" if len(ppls) > 1 else "-"
        lines.append(f"| {name} | {ppl:.4f} | {std} | {100 * (ppl / base - 1):+.2f}% | {seconds:.1f} s |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--bytes", type=int, default=4_000_000)
    parser.add_argument("--dim", type=int, default=192)
    parser.add_argument("--hidden", type=int, default=None, help="MLP width (default 3 * dim)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16, help="training windows per step")
    parser.add_argument("--calib", type=int, default=64, help="calibration windows of 128 bytes")
    parser.add_argument("--seeds", type=int, default=1, help="calibration draws per calibrating arm")
    parser.add_argument("--act-order", action="store_true", help="GPTQ with act_order=True")
    parser.add_argument("--per-channel", action="store_true", help="also RTN / GPTQ int4 per channel")
    parser.add_argument("--checkpoint", type=Path, help="trained weights: loaded if present, else saved")
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny model, few steps")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.steps, args.bytes, args.dim, args.layers, args.calib = 20, 200_000, 128, 2, 4
        rows = run(steps=20, max_bytes=200_000, length=64, calib=4, dim=128, layers=2)
    else:
        rows = run(steps=args.steps, max_bytes=args.bytes, calib=args.calib, dim=args.dim,
                   layers=args.layers, hidden=args.hidden, seeds=args.seeds, act_order=args.act_order,
                   per_channel=args.per_channel, batch=args.batch, checkpoint=args.checkpoint)
    from razor_ext.estimators import cpu_signature

    host = cpu_signature()
    text = (f"Tiny Llama ({args.dim} wide, MLP {args.hidden or 3 * args.dim}, {args.layers} blocks, "
            f"{args.steps} steps of {args.batch if not args.quick else 16} windows) "
            f"on Python {sysconfig.get_python_version()} stdlib source, "
            f"{args.calib} calibration windows, act_order={args.act_order}, "
            f"{torch.get_num_threads()} threads, host {host['cpu']} ({', '.join(host['flags'])})"
            f"\n\n{table(rows)}\n")
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
