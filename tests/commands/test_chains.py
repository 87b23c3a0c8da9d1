"""The two MMRazor workflows with the CLI alone, from a directory outside the repository, on the
embedded data (one short epoch each), every step reading the file the previous step wrote:

- train teacher -> distil into a smaller student -> prune -> quantize -> export
- SPOS supernet -> evolution search -> retrain the subnet -> export

The quick version trains on the 500-image split; RAZOR_EXT_FULL_TESTS=1 trains on the 4,000-image
split, as a user would.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from razor_ext.cli import main

FULL = os.environ.get('RAZOR_EXT_FULL_TESTS') == '1'
QUICK = ['train_cfg.max_epochs=1', 'default_hooks.logger.console=false']
if not FULL:
    QUICK.append('train_dataloader.dataset.split=val')


def run(capsys: pytest.CaptureFixture[str], *argv: str, options: tuple[str, ...] = (),
        quick: bool = True) -> str:
    """Run one razor-ext command; its output is echoed (the tables are the point) and returned."""
    code = main([*argv, '--cfg-options', *(QUICK if quick else ()), *options])
    out, err = capsys.readouterr()
    with capsys.disabled():
        print(out + err)
    assert code == 0, err
    return out + err


def results(work_dir: str) -> dict:
    return json.loads((Path(work_dir) / 'results.json').read_text())


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = Path(__file__).resolve().parents[2]
    assert repo not in tmp_path.parents
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_teacher_distill_prune_quantize_export(outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, 'train', 'razor_ext::classification/mnist5k_cnn.py', '--work-dir', 'teacher')
    assert Path('teacher/best_accuracy_top1.pth').is_file() and Path('teacher/last.pth').is_file()
    assert 'random weights' not in out

    out = run(capsys, 'distill', 'razor_ext::distill/kd/kd_logits_cnn16_cnn8_mnist5k.py', '--work-dir', 'kd',
              options=('model.teacher_ckpt=teacher/best_accuracy_top1.pth',))
    assert 'random weights' not in out
    table = {r['name']: r for r in results('kd')['table']}
    assert table['student']['params'] < table['teacher']['params']
    assert table['teacher']['accuracy'] > 50  # the trained teacher was loaded, not random weights

    # The student (MnistCNN width 8) is pruned: the prune config's network, narrowed, from student.pth.
    run(capsys, 'prune', 'razor_ext::pruning/ite_prune_l1_mnist5k.py', '--work-dir', 'prune',
        options=('model.architecture.width=8', 'model.step_freq=2', 'load_from=kd/student.pth'))
    table = {r['name']: r for r in results('prune')['table']}
    assert table['unpruned']['accuracy'] == pytest.approx(results('kd')['table'][1]['accuracy'])
    assert Path('prune/pruned.onnx').stat().st_size < Path('prune/unpruned.onnx').stat().st_size
    assert table['pruned']['params'] < table['unpruned']['params']
    from razor_ext.architectures import MnistCNN
    from razor_ext.pruning import load_pruned

    reloaded = load_pruned(MnistCNN(width=8), 'prune/pruned.pth')
    assert sum(p.numel() for p in reloaded.parameters()) == table['pruned']['params']
    # Any step's result exports through the network's own config: the student, the pruned model.
    for ckpt, onnx in (('kd/student.pth', 'student.onnx'), ('prune/pruned.pth', 'pruned_again.onnx')):
        out = run(capsys, 'export', 'razor_ext::classification/mnist5k_cnn.py', '--checkpoint', ckpt,
                  '--out', onnx, options=('model.architecture.width=8',), quick=False)
        assert 'verified in onnxruntime' in out
    assert Path('pruned_again.onnx').stat().st_size == Path('prune/pruned.onnx').stat().st_size

    out = run(capsys, 'quantize', 'razor_ext::quantization/ptq_int8_mnist5k.py', '--work-dir', 'ptq',
              options=('model.architecture.width=8', 'model.float_checkpoint=prune/pruned.pth',
                       'train_cfg.calibrate_steps=2'), quick=False)
    assert 'random weights' not in out
    table = {r['name']: r for r in results('ptq')['table']}
    assert table['float']['params'] < results('prune')['table'][0]['params']  # the pruned shapes
    assert Path('ptq/quantized.pth').is_file() and Path('ptq/quantized.onnx').is_file()

    out = run(capsys, 'export', 'razor_ext::quantization/ptq_int8_mnist5k.py', '--checkpoint',
              'ptq/quantized.pth', '--out', 'final_int8.onnx',
              options=('model.architecture.width=8', 'model.float_checkpoint=prune/pruned.pth'), quick=False)
    assert 'verified in onnxruntime' in out and Path('final_int8.onnx').is_file()
    # quantized.pth reloads on a fresh float model (the pruned one): exported again, it computes
    # exactly what the exported file computes (same weights, same qparams).
    import torch

    from razor_ext import quantization
    from razor_ext.algorithm import load_weights
    from razor_ext.export import onnxruntime_outputs

    q = quantization.load(load_weights(MnistCNN(width=8), 'prune/pruned.pth'), 'ptq/quantized.pth').eval()
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    quantization.export_onnx(q, x, 'reloaded_int8.onnx', verify=True)
    exported = onnxruntime_outputs('final_int8.onnx', [x])[0]
    np.testing.assert_array_equal(onnxruntime_outputs('reloaded_int8.onnx', [x])[0], exported)
    print(f"final: int8 top-1 {table['int8 (fake-quant)']['accuracy']:.1f}% "
          f"(float {table['float']['accuracy']:.1f}%)")


def test_supernet_search_retrain_export(outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, 'search', 'razor_ext::nas/spos/spos_searchable_mnist_supernet.py', '--work-dir', 'supernet')
    run(capsys, 'search', 'razor_ext::nas/spos/spos_searchable_mnist_search.py', '--work-dir', 'search',
        options=('load_from=supernet/last.pth', 'train_cfg.num_candidates=4', 'train_cfg.top_k=2',
                 'train_cfg.num_mutation=1', 'train_cfg.num_crossover=1'))
    for name in ('best_subnet.yaml', 'best_subnet_resources.json', 'best_subnet.pth', 'pareto_front.json'):
        assert (Path('search') / name).is_file(), name
    front = json.loads(Path('search/pareto_front.json').read_text())
    assert front['cost'] == 'flops' and front['front']

    run(capsys, 'train', 'razor_ext::nas/spos/spos_searchable_mnist_subnet.py', '--work-dir', 'subnet',
        options=('model.architecture.fix_subnet=search/best_subnet.yaml', 'load_from=search/best_subnet.pth'))
    retrained = results('subnet')['table'][0]
    searched = [r for r in results('search')['table'] if r['name'] == 'best subnet'][0]
    assert retrained['params'] == searched['params']

    out = run(capsys, 'export', 'razor_ext::nas/spos/spos_searchable_mnist_subnet.py', '--checkpoint',
              'subnet/last.pth', '--out', 'subnet.onnx',
              options=('model.architecture.fix_subnet=search/best_subnet.yaml',))
    assert 'verified in onnxruntime' in out
    print(f"final: retrained subnet top-1 {retrained['accuracy']:.1f}%")
