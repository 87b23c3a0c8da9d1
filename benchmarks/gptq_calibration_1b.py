"""GPTQ calibration of a ~1 B-parameter Llama-style model (transformers, built from a config with
random weights: wall time and memory do not depend on the weights' values): wall time and peak
resident memory of ``razor_ext.quantization.gptq`` (int4, g128), block by block.

Run:  PYTHONPATH=. python benchmarks/gptq_calibration_1b.py [--samples 8] [--length 256]
Peak memory is the process's maximum RSS (``resource.getrusage``), reported next to the float
model's own size, so "little more memory than the model" can be read off directly.
"""
from __future__ import annotations

import argparse
import resource
import time

import torch


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--layers", type=int, default=16)
    args = parser.parse_args()
    import transformers

    from razor_ext.quantization import gptq

    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632,
                                   num_hidden_layers=args.layers, num_attention_heads=32,
                                   num_key_value_heads=4, max_position_embeddings=2048)
    t0 = time.perf_counter()
    model = transformers.LlamaForCausalLM(cfg).eval()
    params = sum(p.numel() for p in model.parameters())
    print(f"built {params / 1e9:.2f} B params ({params * 4 / 2 ** 30:.2f} GiB float32) in "
          f"{time.perf_counter() - t0:.0f} s; RSS peak so far {rss_gib():.2f} GiB", flush=True)
    g = torch.Generator().manual_seed(1)
    batches = [dict(input_ids=torch.randint(0, 32000, (1, args.length), generator=g))
               for _ in range(args.samples)]
    t0 = time.perf_counter()
    gptq(model, batches, bits=4, group_size=128, progress=True)
    seconds = time.perf_counter() - t0
    print(f"GPTQ int4 g128, {args.samples} x {args.length} tokens, {torch.get_num_threads()} threads: "
          f"{seconds:.0f} s; peak RSS {rss_gib():.2f} GiB", flush=True)


if __name__ == "__main__":
    main()
