"""The demo's stages. Each says whether the library it needs is in this build (``available``)
and runs on the shared :class:`~razor_ext.demo.context.DemoContext`. A stage whose library has
not landed is reported as such: nothing is faked."""
from __future__ import annotations

import copy
import importlib
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from razor_ext.demo.measure import (accuracy, count_flops, count_params, onnx_latency_ms,
                                    openvino_latency_ms)
from razor_ext.demo.nas_latency import nas_constraints
from razor_ext.engine.progress import track
from razor_ext.export import to_onnx
from razor_ext.architectures import MnistCNN

if TYPE_CHECKING:
    from razor_ext.demo.context import DemoContext


@dataclass
class StageResult:
    """One row of the report. ``status`` is ``'done'``, ``'not landed'`` or ``'failed'``."""

    name: str
    title: str
    status: str
    accuracy: float | None = None
    params: int | None = None
    flops: int | None = None
    onnx_file: str | None = None
    onnx_bytes: int | None = None
    latency_ms: float | None = None  # onnxruntime, batch 1
    openvino_ms: float | None = None  # OpenVINO, batch 1 (None: not installed)
    seconds: float | None = None
    notes: str = ''
    candidates: list[dict[str, float]] = field(default_factory=list)  # NAS: every evaluated subnet


def _importable(*names: str) -> str | None:
    """None when every ``module:attr`` imports, else the first that does not (the reason)."""
    for name in names:
        module, _, attr = name.partition(':')
        try:
            mod = importlib.import_module(module)
        except ImportError:
            return f'{module} is not in this build'
        if attr and not hasattr(mod, attr):
            return f'{module}.{attr} is not in this build'
    return None


def train_epochs(model: nn.Module, ctx: DemoContext, epochs: int, lr: float = 3e-3,
                 loss_fn: Any = None, params: Any = None) -> None:
    """Adam over the train split, shuffled by the context's seed; ``loss_fn(model, x, y)``
    defaults to cross-entropy of ``model(x)``."""
    optimizer = torch.optim.Adam(params if params is not None else model.parameters(), lr=lr)
    images, labels = ctx.train
    generator = torch.Generator().manual_seed(ctx.seed)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        for i in track(range(0, len(order), ctx.batch_size), desc=f'epoch {epoch + 1}/{epochs}'):
            idx = order[i:i + ctx.batch_size]
            x, y = images[idx], labels[idx]
            loss = loss_fn(model, x, y) if loss_fn is not None else F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        ctx.log(f'  epoch {epoch + 1}/{epochs}: loss {float(loss.detach()):.3f}')
    model.eval()


def measure(ctx: DemoContext, result: StageResult, model: nn.Module, onnx_name: str,
            export: Any = None) -> StageResult:
    """Fill accuracy/params/FLOPs, export ONNX (verified in onnxruntime) and time it."""
    example = ctx.test[0][:2]
    result.accuracy = accuracy(model, *ctx.test)
    result.params = count_params(model)
    result.flops = count_flops(model, example)
    path = ctx.work_dir / onnx_name
    (export or to_onnx)(model, example, path)
    result.onnx_file, result.onnx_bytes = path.name, path.stat().st_size
    result.latency_ms = onnx_latency_ms(path, example)
    result.openvino_ms = openvino_latency_ms(path, example)
    return result


class Stage:
    """A demo stage: ``available()`` -> None or why not; ``run(ctx)`` -> :class:`StageResult`."""

    name = ''
    title = ''

    def available(self) -> str | None:
        return None

    def run(self, ctx: DemoContext) -> StageResult:
        raise NotImplementedError


class TeacherStage(Stage):
    name, title = 'teacher', 'Teacher CNN (float)'

    def run(self, ctx: DemoContext) -> StageResult:
        torch.manual_seed(ctx.seed)
        teacher = MnistCNN(width=16)
        train_epochs(teacher, ctx, epochs=1 if ctx.quick else 4)
        ctx.models['teacher'] = teacher
        ctx.models['current'] = teacher
        return measure(ctx, StageResult(self.name, self.title, 'done'), teacher, 'teacher.onnx')


class NasStage(Stage):
    name, title = 'nas', 'NAS: SPOS supernet + evolution search under half the teacher FLOPs'

    def available(self) -> str | None:
        return _importable('razor_ext.nas.algorithms:SPOS',
                           'razor_ext.nas.search:evolution_search',
                           'razor_ext.supernet.fix_subnet:export_fix_subnet')

    def run(self, ctx: DemoContext) -> StageResult:
        from razor_ext.nas.search import bn_calibrator, evolution_search
        from razor_ext.nas.algorithms import SPOS
        from razor_ext.architectures import SearchableMnistNet
        from razor_ext.supernet.fix_subnet import export_fix_subnet

        torch.manual_seed(ctx.seed)
        random.seed(ctx.seed)
        # depth 1: 64 subnets, enough for the quick search; depth 2: 4,096 for the full one.
        supernet = SearchableMnistNet(width=8, depth=1 if ctx.quick else 2)
        algo = SPOS(supernet)

        def loss_fn(_model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return algo.parse_losses(algo(x, y, mode='loss'))[0]

        train_epochs(algo, ctx, epochs=2 if ctx.quick else 6, loss_fn=loss_fn)
        example = ctx.test[0][:1]
        mutator = algo.mutator
        budget = 0.5 * count_flops(ctx.models['teacher'], example)  # half the teacher's FLOPs
        calib = [(ctx.train[0][i:i + 256],) for i in range(0, 1024, 256)]
        constraints, estimate, note = nas_constraints(ctx, supernet, example, budget)
        search = evolution_search(
            algo, lambda _m: accuracy(supernet, *ctx.val), mutator=mutator,
            constraints=constraints, estimator=lambda _m: estimate(),
            num_candidates=10 if ctx.quick else 16, top_k=5, num_mutation=4 if ctx.quick else 8,
            num_crossover=4 if ctx.quick else 8, max_epochs=2 if ctx.quick else 5, seed=ctx.seed,
            calibrate_fn=bn_calibrator(calib, forward=lambda m, batch: supernet(batch[0])),
            checkpoint=ctx.work_dir / 'search_state.pkl', resume=False)
        mutator.set_choices(search.best_choices)
        _, subnet = export_fix_subnet(supernet, slice_weight=True, path=ctx.work_dir / 'subnet.yaml')
        train_epochs(subnet, ctx, epochs=1, lr=1e-3)  # retrain the found subnet briefly
        ctx.models['subnet'] = subnet
        ctx.models['current'] = subnet
        result = StageResult(self.name, self.title, 'done',
                             notes=f'budget {budget / 1e6:.2f} MFLOPs{note}; subnet.yaml',
                             candidates=[{**c.resources, 'accuracy': c.score}
                                         for c in search.candidates])
        return measure(ctx, result, subnet, 'subnet.onnx')


class DistillStage(Stage):
    name, title = 'distill', 'Distillation: teacher -> smaller student (KL on logits)'

    def available(self) -> str | None:
        return _importable('razor_ext.distill.algorithms:SingleTeacherDistill',
                           'razor_ext.distill.configurable_distiller:ConfigurableDistiller')

    def run(self, ctx: DemoContext) -> StageResult:
        from razor_ext.registry import MODELS

        torch.manual_seed(ctx.seed)
        student = ctx.models.get('subnet') or MnistCNN(width=8)
        algo = MODELS.build(dict(
            type='SingleTeacherDistill', architecture=student, teacher=ctx.models['teacher'],
            distiller=dict(
                type='ConfigurableDistiller',
                student_recorders=dict(logits=dict(type='ModuleOutputs', source='head')),
                teacher_recorders=dict(logits=dict(type='ModuleOutputs', source='head')),
                distill_losses=dict(loss_kd=dict(type='KLDivergence', tau=4.0, loss_weight=1.0)),
                loss_forward_mappings=dict(loss_kd=dict(
                    preds_S=dict(from_student=True, recorder='logits'),
                    preds_T=dict(from_student=False, recorder='logits'))))))

        def loss_fn(_model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return algo.parse_losses(algo(x, y, mode='loss'))[0]

        train_epochs(algo, ctx, epochs=1 if ctx.quick else 3, loss_fn=loss_fn,
                     params=[p for p in student.parameters() if p.requires_grad])
        ctx.models['current'] = student
        result = StageResult(self.name, self.title, 'done',
                             notes='student: ' + ('the NAS subnet' if 'subnet' in ctx.models
                                                  else 'MnistCNN(width=8) (no NAS subnet)'))
        return measure(ctx, result, student, 'student.onnx')


class PruneStage(Stage):
    name, title = 'prune', 'Pruning: 30% of channels (L1), fine-tuned'

    def available(self) -> str | None:
        return _importable('razor_ext.pruning:prune', 'razor_ext.pruning:save_pruned')

    def run(self, ctx: DemoContext) -> StageResult:
        from razor_ext.pruning import prune, save_pruned

        model = ctx.models['current']
        pruned = prune(model, ctx.test[0][:2], ratio=0.3, importance='l1')
        train_epochs(pruned, ctx, epochs=1, lr=1e-3)
        save_pruned(pruned, ctx.work_dir / 'pruned.pth')
        ctx.models['current'] = pruned
        result = StageResult(self.name, self.title, 'done', notes='recipe + weights: pruned.pth')
        return measure(ctx, result, pruned, 'pruned.onnx')


class QuantizeStage(Stage):
    name, title = 'quantize', 'Quantization: int8 PTQ (per-channel weights), QDQ ONNX'

    def available(self) -> str | None:
        return _importable('razor_ext.quantization:prepare', 'razor_ext.quantization:calibrate',
                           'razor_ext.quantization:export_onnx')

    def run(self, ctx: DemoContext) -> StageResult:
        from razor_ext import quantization

        model = copy.deepcopy(ctx.models['current']).eval()
        example = ctx.test[0][:2]
        qmodel = quantization.prepare(model, example, qconfig='int8_per_channel', mode='ptq')
        images = ctx.train[0]
        quantization.calibrate(qmodel, [images[i:i + 256] for i in range(0, 1024, 256)])
        ctx.models['quantized'] = qmodel
        result = StageResult(self.name, self.title, 'done')
        return measure(ctx, result, qmodel, 'model_int8.onnx',
                       export=lambda m, x, p: quantization.export_onnx(m, x, p, verify=True))


STAGES: list[Stage] = [TeacherStage(), NasStage(), DistillStage(), PruneStage(), QuantizeStage()]
