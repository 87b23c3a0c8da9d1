"""The joint-compression demo: on embedded MNIST-5k, "search, then uniform int8" vs the joint
search of operators, widths and bit widths, both measured in the same runtime
(``razor-ext demo --joint``)."""
from __future__ import annotations

import json
import os
import random
import statistics
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.architectures import SearchableSlimNet
from razor_ext.data.embedded import load_mnist5k, split_indices
from razor_ext.demo.joint_report import joint_report_markdown
from razor_ext.estimators.runtime_timing import cpu_signature, time_onnx_rounds
from razor_ext.fileio import atomic_path, atomic_write_text
from razor_ext.joint import (JointCompression, bit_pairs_for, build_latency_table, calibrate_supernet,
                             check_prediction, plot_fronts, search_compression)

__all__ = ['run_joint_demo']


def _accuracy(model: nn.Module, images: Tensor, labels: Tensor) -> float:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            pred = torch.cat([model(images[i:i + 250]).argmax(1) for i in range(0, len(images), 250)])
    finally:
        model.train(was_training)
    return float((pred == labels).float().mean())


def run_joint_demo(out_dir: str | os.PathLike[str], runtime: str = 'onnxruntime', epochs: int = 6,
                   budget_quantile: float = 0.6, batch: int = 8, seed: int = 0,
                   num_candidates: int = 16, max_epochs: int = 6,
                   timing_repeats: int = 300, threads: int = 1) -> dict[str, Any]:
    """Train one joint supernet, then search it twice under the same latency budget: with every
    bit width held at 8 ("search, then uniform int8") and jointly; write both fronts and a report.

    Args:
        out_dir: work folder (weights, latency table, checkpoints, ONNX, plot, ``report.json``).
        runtime: ``'onnxruntime'`` or ``'openvino'``.
        epochs: sandwich-rule training epochs over the 4,000 training digits.
        budget_quantile: the budget is this quantile of the predicted latencies of random
            uniform-int8 subnets.
        batch: the timed batch size.
        num_candidates, max_epochs: each search's evolution settings (the uniform-int8 space is
            small and may be exhausted before; the joint space is not).
        timing_repeats: timed runs per table entry and per final measurement (their minimum).
        threads: the runtime's intra-op threads for every timing. One by default: on a 2-vCPU
            VM one file's minimum of 300 runs at 2 threads read 0.54-0.99 ms from session to
            session, at one thread 0.78-0.85 ms.

    The joint space keeps to the bit pairs the runtime accelerates (int8 or float per unit in
    OpenVINO, :mod:`razor_ext.joint.bit_pairs`); the joint search's first population starts
    from the int8 search's top candidates. After both searches, the two winners' ONNX
    files are timed again together, round robin (``report['head_to_head']``), so that their
    latencies compare figures taken under the same load.

    Returns:
        the report dict (also written to ``out_dir/report.json``, and as the README's tables
        to ``out_dir/report.md``).
    """
    torch.manual_seed(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images, labels = load_mnist5k()
    tr, va, te = (split_indices(labels, s, seed) for s in ('train', 'val', 'test'))
    x_tr, y_tr = images[tr], labels[tr]
    example = images[te[:batch]].clone()
    calib = [x_tr[i:i + 64] for i in range(0, 256, 64)]
    algo = JointCompression(SearchableSlimNet(), input_shape=tuple(example.shape))

    def train(a: JointCompression) -> None:
        opt = torch.optim.Adam(a.parameters(), lr=3e-3)
        gen = torch.Generator().manual_seed(seed)
        for epoch in range(epochs):
            order = torch.randperm(len(x_tr), generator=gen)
            for i in range(0, len(order), 64):
                idx = order[i:i + 64]
                a.train_step((x_tr[idx], y_tr[idx]), opt)
            print(f'joint demo: supernet epoch {epoch + 1}/{epochs} done', flush=True)

    def val_acc(m: nn.Module) -> float:
        return _accuracy(m, images[va], labels[va])

    def test_acc(m: nn.Module) -> float:
        return _accuracy(m, images[te], labels[te])

    common = dict(example_inputs=example, calib=calib, runtime=runtime, work_dir=out, seed=seed,
                  num_candidates=num_candidates, max_epochs=max_epochs, final_eval_fn=test_acc,
                  timing_repeats=timing_repeats, threads=threads)
    weights = out / 'supernet.pt'
    if weights.exists():  # resumable: the trained supernet is reused
        algo.load_state_dict(torch.load(weights, weights_only=True))
    else:
        algo.train()
        train(algo)
        with atomic_path(weights) as tmp:
            torch.save(algo.state_dict(), tmp)
    calibrate_supernet(algo, calib, seed)
    space = algo.space
    space.bit_pairs = bit_pairs_for(runtime)  # the table holds only what the search can take
    # three passes, each entry their median: a slow phase of a shared host during one pass
    # would lift every entry timed in it
    table = build_latency_table(space, calib, runtime, out / f'latency_{runtime}.json',
                                repeats=timing_repeats, threads=threads, passes=3)
    # the budget: a quantile of the uniform-int8 subnets' predicted latencies, so that the
    # baseline has subnets to choose from in every runtime
    rng = random.Random(seed)
    int8 = []
    for _ in range(200):
        space.set_choices({**{g: rng.choice(ms[0].choices) for g, ms in
                              space.mutator.search_groups.items()}, **space.uniform_bits(8, 8)})
        int8.append(table.predict(algo.architecture))
    budget = sorted(int8)[int(budget_quantile * (len(int8) - 1))]
    fronts, report = {}, {'runtime': runtime, 'host': cpu_signature(threads), 'budget_ms': budget,
                          'batch': batch, 'table_entries': len(table),
                          'unit_timing': table.signature.get('unit_timing'),
                          'bit_pairs': space.bit_pairs}
    print(f'joint demo: latency table of {len(table)} entries; budget {budget:.3f} ms', flush=True)
    # the joint search starts from where "search, then int8" ended (its space holds those
    # subnets): a larger space searched with the same number of candidates would otherwise
    # need luck to meet them again
    start: list[dict[str, Any]] = []
    for name, bits in (('search, then int8', (8, 8)), ('joint', None)):
        res = search_compression(algo, None, val_acc, latency_budget_ms=budget, uniform_bits=bits,
                                 table=table, init_candidates=start or None, **common)
        start = [dict(c.choices) for c in res.search.top_k]
        fronts[name] = [(f.measured_ms, f.accuracy) for f in res.finals]
        report[name] = {'best': {'measured_ms': res.best.measured_ms,
                                 'predicted_ms': res.best.predicted_ms,
                                 'test_accuracy': res.best.accuracy, 'subnet': res.best.choices},
                        'finals': [dict(measured_ms=f.measured_ms, predicted_ms=f.predicted_ms,
                                        test_accuracy=f.accuracy, subnet=f.choices)
                                   for f in res.finals],
                        'onnx': str(res.onnx_path)}
    names = ('search, then int8', 'joint')
    rounds = time_onnx_rounds([report[n]['onnx'] for n in names], tuple(example.shape), runtime,
                              warmup=20, repeats=4 * timing_repeats, threads=threads)
    report['head_to_head'] = {n: {'min_ms': min(t), 'median_ms': statistics.median(t),
                                  'test_accuracy': report[n]['best']['test_accuracy']}
                              for n, t in zip(names, rounds)}
    check = check_prediction(space, table, calib, num_subnets=8, seed=seed, repeats=timing_repeats,
                             sessions=3)
    report['prediction'] = {'predicted_ms': check.predicted, 'measured_ms': check.measured,
                            'mean_error': check.mean_error, 'max_error': check.max_error}
    report['plot'] = str(plot_fronts(fronts, out / 'pareto_fronts.png',
                                     f'MNIST-5k, {runtime}, batch {batch}', budget))
    atomic_write_text(out / 'report.json', json.dumps(report, indent=1, default=str))
    atomic_write_text(out / 'report.md', joint_report_markdown(report))
    return report


if __name__ == '__main__':  # python -m razor_ext.demo.joint_stage OUT_DIR [RUNTIME [EPOCHS]]
    import sys
    args = sys.argv[1:]
    print(json.dumps(run_joint_demo(args[0], *args[1:2], *(int(a) for a in args[2:3])), indent=1,
                     default=str))
