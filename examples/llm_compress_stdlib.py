"""Post-training compression of a small Llama-style causal LM, trained here on text shipped with
Python itself (the standard library's own source files), measured by held-out perplexity:
float, RTN int4, GPTQ int4, magnitude 50%, SparseGPT 50% and SparseGPT 2:4.

Nothing is downloaded: the text is read from the running interpreter's standard library
(``sysconfig.get_paths()['stdlib']``), byte-level tokens (vocabulary 256), 90% / 10% split by file.
The model (written here: RMSNorm, rotary attention, SwiGLU MLP, ``model.layers`` as the block
list GPTQ / SparseGPT walk) trains in a few minutes on two CPU threads.

Run:  PYTHONPATH=. python examples/llm_compress_stdlib.py [--steps 600] [--out results.md] [--seed N | --seeds 0 1 2]
      PYTHONPATH=. python examples/llm_compress_stdlib.py --quick   (a smoke run, seconds)
"""
from __future__ import annotations

import argparse
import copy
import math
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


def train(model: nn.Module, data: torch.Tensor, steps: int, length: int, batch: int,
          seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
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
        layers: int = 4, seed: int = 0) -> list[tuple[str, float, float]]:
    """Train, compress six ways, return ``[(arm, perplexity, seconds to compress)]``.

    ``seed`` sets the initialisation, the training windows and (``seed + 1``) the calibration
    windows; the text split is fixed."""
    torch.manual_seed(seed)
    train_data, held = stdlib_bytes(max_bytes)
    print(f"text: {len(train_data)} train / {len(held)} held-out bytes of stdlib source")
    model = TinyLlama(dim=dim, layers=layers, hidden=3 * dim)
    t0 = time.perf_counter()
    train(model, train_data, steps, length, batch=16, seed=seed)
    print(f"trained in {time.perf_counter() - t0:.0f} s")
    calib_batches = [w[None, :-1] for w in windows(train_data, calib, length, torch.Generator().manual_seed(seed + 1))]
    arms = [("float", lambda m: m),
            ("RTN int4 g128", lambda m: gptq(m, None, bits=4, group_size=128, method="rtn")),
            ("GPTQ int4 g128", lambda m: gptq(m, calib_batches, bits=4, group_size=128)),
            ("magnitude 50%", lambda m: sparse_gpt(m, None, sparsity=0.5, method="magnitude")),
            ("SparseGPT 50%", lambda m: sparse_gpt(m, calib_batches, sparsity=0.5)),
            ("SparseGPT 2:4", lambda m: sparse_gpt(m, calib_batches, pattern="2:4"))]
    rows = []
    for name, compress in arms:
        t0 = time.perf_counter()
        compressed = compress(copy.deepcopy(model))
        seconds = time.perf_counter() - t0
        rows.append((name, perplexity(compressed, held, length), seconds))
        print(f"  {name:<16} perplexity {rows[-1][1]:.3f}  ({seconds:.1f} s)", flush=True)
    return rows


def table(rows: list[tuple[str, float, float]]) -> str:
    base = rows[0][1]
    lines = ["| arm | held-out perplexity (bytes) | vs float | compress time |", "|---|---|---|---|"]
    for name, ppl, seconds in rows:
        lines.append(f"| {name} | {ppl:.3f} | {100 * (ppl / base - 1):+.1f}% | {seconds:.1f} s |")
    return "\n".join(lines)


def seeds_table(per_seed: list[list[tuple[str, float, float]]], seeds: list[int]) -> str:
    """Several seeds: per arm, held-out perplexity and its change against float as mean ± std."""
    import statistics

    def mean_std(values: list[float], fmt: str) -> str:
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{format(statistics.mean(values), fmt)} ± {format(std, fmt.lstrip('+'))}"

    lines = [f"| arm | held-out perplexity, mean ± std (seeds {', '.join(map(str, seeds))}) | "
             "vs float %, mean ± std | per seed |", "|---|---|---|---|"]
    for i, (name, _, _) in enumerate(per_seed[0]):
        ppl = [rows[i][1] for rows in per_seed]
        rel = [100 * (rows[i][1] / rows[0][1] - 1) for rows in per_seed]
        lines.append(f"| {name} | {mean_std(ppl, '.3f')} | {mean_std(rel, '+.2f')} | "
                     f"{' / '.join(f'{v:.3f}' for v in ppl)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--bytes", type=int, default=4_000_000)
    parser.add_argument("--dim", type=int, default=192)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--calib", type=int, default=64, help="calibration windows of 128 bytes")
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny model, few steps")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="several seeds: one table each, then mean ± std per arm")
    args = parser.parse_args()
    seeds = args.seeds or [args.seed]
    per_seed = []
    for seed in seeds:
        if args.quick:
            per_seed.append(run(steps=20, max_bytes=200_000, length=64, calib=4, dim=128, layers=2,
                                seed=seed))
        else:
            per_seed.append(run(steps=args.steps, max_bytes=args.bytes, calib=args.calib,
                                dim=args.dim, layers=args.layers, seed=seed))
    rows = per_seed[0]
    from razor_ext.estimators import cpu_signature

    host = cpu_signature()
    text = (f"Tiny Llama ({args.dim if not args.quick else 128} wide, "
            f"{args.layers if not args.quick else 2} blocks, {args.steps if not args.quick else 20} steps) "
            f"on Python {sysconfig.get_python_version()} stdlib source, "
            f"{torch.get_num_threads()} threads, seed {seeds[0]}, host {host['cpu']} "
            f"({', '.join(host['flags'])})\n\n{table(rows)}\n")
    if len(seeds) > 1:
        text += f"\n{seeds_table(per_seed, seeds)}\n"
    print(text)
    if args.out:
        from razor_ext.fileio import atomic_write_text

        atomic_write_text(args.out, text)


if __name__ == "__main__":
    main()
