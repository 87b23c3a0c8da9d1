"""What each command leaves in its work dir, named the same way every time, with the before /
after table: chosen by what the config's model is (a pruning algorithm leaves its pruned model
whichever command ran it).

| model                     | files                                                            |
|---------------------------|------------------------------------------------------------------|
| any (train)               | ``best_<metric>.pth`` (when validated), ``last.pth``              |
| ``ItePruneAlgorithm``, ``GroupFisherAlgorithm`` | ``pruned.pth`` (``load_pruned`` / any checkpoint key), ``pruned.onnx``, ``unpruned.onnx`` |
| search loop result        | ``best_subnet.yaml``, ``best_subnet_resources.json``, ``best_subnet.pth``, ``pareto_front.json`` |
| DARTS / DSNAS (arch parameters) | ``best_subnet.yaml`` (the argmax subnet), ``best_subnet.pth`` (sliced), and ``last.pth`` |
| ``SingleTeacherDistill``  | ``student.pth``                                                   |
| ``MMArchitectureQuant``   | ``quantized.pth`` (``quantization.load``), ``quantized.onnx`` (QDQ)|

Every run also writes ``results.json`` (the files and the table).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from torch import nn

from razor_ext.commands.measure import Row, eval_loader, example_input, measure
from razor_ext.export import to_onnx
from razor_ext.fileio import CHECKPOINT_FORMAT, atomic_write_text, save_checkpoint

__all__ = ['Outputs', 'snapshot_before', 'write_outputs']


class Outputs:
    """Files written and table rows of one command run."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.files: dict[str, str] = {}
        self.rows: list[Row] = []

    def path(self, role: str, name: str) -> Path:
        path = self.work_dir / name
        self.files[role] = str(path)
        return path


def _kind(model: nn.Module, runner: Any) -> str:
    from razor_ext.distill.algorithms import SingleTeacherDistill
    from razor_ext.pruning import DMCP, GroupFisherAlgorithm, ItePruneAlgorithm
    from razor_ext.quantization import MMArchitectureQuant

    if getattr(runner.train_loop, 'result', None) is not None and hasattr(model, 'mutator'):
        return 'search'
    # before 'derive': DMCP's mutator has arch parameters too, but it prunes channels
    if isinstance(model, (ItePruneAlgorithm, GroupFisherAlgorithm, DMCP)):
        return 'prune'
    if getattr(getattr(model, 'mutator', None), 'arch_params', None):
        return 'derive'  # differentiable NAS (DARTS, DSNAS): the subnet is the arch argmax
    if isinstance(model, SingleTeacherDistill):
        return 'distill'
    if isinstance(model, MMArchitectureQuant):
        return 'quantize'
    return 'train'


def snapshot_before(runner: Any) -> nn.Module | None:
    """What "before" means for the table, taken before the run: the unpruned network of a
    pruning algorithm (None for the other kinds, which keep their "before" model)."""
    from razor_ext.pruning import DMCP, GroupFisherAlgorithm, ItePruneAlgorithm

    if isinstance(runner.model, (ItePruneAlgorithm, GroupFisherAlgorithm, DMCP)):
        return runner.model.to_static()
    return None


def _meta(runner: Any, **extra: Any) -> dict[str, Any]:
    return {'format': CHECKPOINT_FORMAT, 'config': str(runner.cfg.get('filename', '')), **extra}


def _train(runner: Any, out: Outputs, loader: Any, example: Any) -> None:
    best = sorted(out.work_dir.glob('best_*.pth'))
    if best:
        out.files['best'] = str(best[0])
    if runner.train_loop is not None and runner.optim_wrapper is not None:
        runner.save_checkpoint('last.pth')
        out.files['last'] = str(out.work_dir / 'last.pth')
    out.rows.append(measure('trained', runner.model, loader, example, out.files.get('last')))


def _prune(runner: Any, out: Outputs, loader: Any, example: Any, before: nn.Module) -> None:
    from razor_ext.pruning import save_pruned

    pruned = runner.model.to_static().eval()
    save_pruned(pruned, out.path('pruned', 'pruned.pth'))
    to_onnx(before.eval(), example, out.path('unpruned_onnx', 'unpruned.onnx'))
    to_onnx(pruned, example, out.path('pruned_onnx', 'pruned.onnx'))
    out.rows.append(measure('unpruned', before, loader, example, out.files['unpruned_onnx']))
    out.rows.append(measure('pruned', pruned, loader, example, out.files['pruned_onnx']))


def _pareto(points: list[dict[str, Any]], cost: str) -> list[dict[str, Any]]:
    """Candidates no other beats in both ``cost`` (lower) and score (higher), cheapest first."""
    ranked = sorted(points, key=lambda p: (p['resources'][cost], -p['score']))
    front, best = [], float('-inf')
    for p in ranked:
        if p['score'] > best:
            front.append(p)
            best = p['score']
    return front


def _search(runner: Any, out: Outputs, loader: Any, example: Any) -> None:
    from razor_ext.nas import export_fix_subnet
    from razor_ext.nas.search import resolve_mutator

    result, model = runner.train_loop.result, runner.model
    mutator = resolve_mutator(model)
    mutator.set_choices(getattr(mutator, 'max_choices', result.best_choices))
    supernet_max = copy.deepcopy(model).eval()
    mutator.set_choices(result.best_choices)
    subnet, static = export_fix_subnet(model.architecture, slice_weight=True,
                                       path=out.path('subnet', 'best_subnet.yaml'))
    resources = {k: float(v) for k, v in result.best_resources.items()}
    atomic_write_text(out.path('resources', 'best_subnet_resources.json'),
                      json.dumps({'score': result.best_score, **resources}, indent=2) + '\n')
    save_checkpoint({'meta': _meta(runner, kind='subnet', subnet=json.loads(json.dumps(subnet)),
                                   score=float(result.best_score), resources=resources),
                     'state_dict': static.state_dict()}, out.path('subnet_ckpt', 'best_subnet.pth'))
    points = [{'score': float(c.score), 'resources': {k: float(v) for k, v in c.resources.items()},
               'choices': json.loads(json.dumps(c.choices, default=str))} for c in result.candidates]
    cost = next((k for k in ('flops', 'params', 'latency') if points and k in points[0]['resources']),
                None)
    front = _pareto(points, cost) if cost else sorted(points, key=lambda p: -p['score'])[:1]
    atomic_write_text(out.path('pareto_front', 'pareto_front.json'),
                      json.dumps({'cost': cost, 'front': front, 'evaluated': len(points)}, indent=2) + '\n')
    out.rows.append(measure('supernet (max subnet)', supernet_max, loader, example))
    out.rows.append(measure('best subnet', static, loader, example, out.files['subnet_ckpt']))


def _derive(runner: Any, out: Outputs, loader: Any, example: Any) -> None:
    """A differentiable supernet's subnet (each group's argmax / top edges), as a search leaves
    its best: the MMRazor-format YAML and the sliced static subnet's checkpoint."""
    from razor_ext.nas import export_fix_subnet

    model = runner.model
    if runner.train_loop is not None and runner.optim_wrapper is not None:
        runner.save_checkpoint('last.pth')
        out.files['last'] = str(out.work_dir / 'last.pth')
    model.mutator.set_choices(model.mutator.arch_choices())
    subnet, static = export_fix_subnet(model.architecture, slice_weight=True,
                                       path=out.path('subnet', 'best_subnet.yaml'))
    save_checkpoint({'meta': _meta(runner, kind='subnet', subnet=json.loads(json.dumps(subnet, default=str))),
                     'state_dict': static.state_dict()}, out.path('subnet_ckpt', 'best_subnet.pth'))
    out.rows.append(measure('derived subnet', static.eval(), loader, example, out.files['subnet_ckpt']))


def _distill(runner: Any, out: Outputs, loader: Any, example: Any) -> None:
    from razor_ext.distill import student_state_dict_from

    algo = runner.model
    student = student_state_dict_from({'state_dict': algo.state_dict()})
    save_checkpoint({'meta': _meta(runner, kind='student'), 'state_dict': student},
                    out.path('student', 'student.pth'))
    out.rows.append(measure('teacher', algo.teacher, loader, example))
    out.rows.append(measure('student', algo.architecture, loader, example, out.files['student']))


def _quantize(runner: Any, out: Outputs, loader: Any, example: Any) -> None:
    from razor_ext.quantization import enable_fake_quants

    algo = runner.model
    algo.save_quantized(out.path('quantized', 'quantized.pth'))
    algo.export_onnx(out.path('qdq_onnx', 'quantized.onnx'), example)
    enable_fake_quants(algo.architecture, False)
    try:
        out.rows.append(measure('float', algo, loader, example))
    finally:
        enable_fake_quants(algo.architecture, True)
    out.rows.append(measure('int8 (fake-quant)', algo, loader, example, out.files['qdq_onnx']))


def write_outputs(runner: Any, before: nn.Module | None = None) -> Outputs:
    """Write the results of a finished run into its work dir (see the module docstring)."""
    out = Outputs(Path(runner.work_dir))
    loader = eval_loader(runner)
    # The ONNX example comes from the evaluation data, else from the training data.
    source = loader if loader is not None else getattr(runner.train_loop, 'dataloader', None)
    example = example_input(runner, source) if source is not None else None
    kind = _kind(runner.model, runner)
    if kind == 'prune':
        _prune(runner, out, loader, example, before)
    elif kind == 'search':
        _search(runner, out, loader, example)
    elif kind == 'derive':
        _derive(runner, out, loader, example)
    elif kind == 'distill':
        _distill(runner, out, loader, example)
    elif kind == 'quantize':
        _quantize(runner, out, loader, example)
    else:
        _train(runner, out, loader, example)
    summary = {'kind': kind, 'files': out.files, 'table': [r.as_dict() for r in out.rows]}
    atomic_write_text(out.path('results', 'results.json'), json.dumps(summary, indent=2) + '\n')
    return out
