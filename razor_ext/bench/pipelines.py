"""Whole-step and whole-model cases: supernet step, KD step overhead, search throughput,
pruning against Torch-Pruning (when installed) and deployment latency float vs int8."""
from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from razor_ext.bench.report import BenchRow
from razor_ext.bench.timing import round_robin
from razor_ext.registry import MODELS


def _step(algo: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> Callable[[], object]:
    opt = torch.optim.SGD([p for p in algo.parameters() if p.requires_grad], lr=0.01)
    return lambda: algo.train_step(batch, opt)


def _batch(n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(n, 1, 28, 28, device=device), torch.randint(0, 10, (n,), device=device)


def training_rows(quick: bool, device: torch.device) -> list[BenchRow]:
    """Supernet step (SPOS: sample + dynamic forward/backward) vs the same supernet at fixed
    choices; KD step (student + frozen teacher) vs the student alone.

    Example:
        >>> rows = training_rows(True, torch.device('cpu'))  # doctest: +SKIP
    """
    n, rounds = (64, 5) if quick else (256, 20)
    batch = _batch(n, device)
    supernet = dict(type='SearchableMnistNet', width=16, depth=2)
    spos = MODELS.build(dict(type='SPOS', architecture=supernet, mutator=dict(type='NasMutator'))).to(device)
    fixed = MODELS.build(dict(type='BaseAlgorithm', architecture=copy.deepcopy(spos.architecture))).to(device)
    student = dict(type='MnistCNN', width=8)
    kd = MODELS.build(dict(
        type='SingleTeacherDistill', architecture=student, teacher=dict(type='MnistCNN', width=16),
        distiller=dict(type='ConfigurableDistiller',
                       student_recorders=dict(logits=dict(type='ModuleOutputs', source='head')),
                       teacher_recorders=dict(logits=dict(type='ModuleOutputs', source='head')),
                       distill_losses=dict(loss_kd=dict(type='KLDivergence', tau=4.0)),
                       loss_forward_mappings=dict(loss_kd=dict(
                           preds_S=dict(from_student=True, recorder='logits'),
                           preds_T=dict(from_student=False, recorder='logits')))))).to(device)
    alone = MODELS.build(dict(type='BaseAlgorithm', architecture=student)).to(device)
    t = round_robin({'spos': _step(spos, batch), 'fixed': _step(fixed, batch),
                     'kd': _step(kd, batch), 'alone': _step(alone, batch)}, rounds=rounds, device=device)
    shape = str(tuple(batch[0].shape))
    return [BenchRow('supernet train step (SPOS)', shape, 'float32', device.type, round(t['spos'] * 1e3, 3),
                     'supernet at its default choices (no sampling)', round(t['fixed'] * 1e3, 3)),
            BenchRow('KD train step (cnn16 -> cnn8)', shape, 'float32', device.type, round(t['kd'] * 1e3, 3),
                     'student step alone', round(t['alone'] * 1e3, 3))]


def search_rows(quick: bool, device: torch.device) -> list[BenchRow]:
    """Search throughput: one candidate = sample, set, forward of a 500-image batch (ms each)."""
    spos = MODELS.build(dict(type='SPOS', architecture=dict(type='SearchableMnistNet', width=16, depth=2),
                             mutator=dict(type='NasMutator'))).to(device).eval()
    images = torch.randn(500, 1, 28, 28, device=device)

    def candidate() -> object:
        spos.mutator.set_choices(spos.mutator.sample_choices())
        with torch.no_grad():
            return spos(images, mode='tensor')

    t = round_robin({'c': candidate}, rounds=5 if quick else 20, device=device)
    return [BenchRow('search: one candidate evaluated', '(500, 1, 28, 28)', 'float32', device.type,
                     round(t['c'] * 1e3, 3), '-', None)]


def prune_rows(quick: bool, device: torch.device) -> list[BenchRow]:
    """``razor_ext.prune`` (analysis + L1 + removal at 50%) vs Torch-Pruning's graph build +
    ``step()`` on ResNet-50, when ``torch_pruning`` is installed (else no baseline)."""
    from razor_ext.architectures.resnet import resnet50
    from razor_ext.pruning import prune

    size = 64 if quick else 224
    model = resnet50().to(device).eval()
    x = torch.randn(1, 3, size, size, device=device)
    roles: dict[str, Callable[[], object]] = {'ours': lambda: prune(model, x, ratio=0.5)}
    try:
        import torch_pruning as tp
    except Exception:  # noqa: BLE001 - any import failure: the peer is not usable here
        tp = None
    if tp is not None:
        def torch_pruning() -> object:
            m = copy.deepcopy(model)
            pruner = tp.pruner.BasePruner(m, x, importance=tp.importance.MagnitudeImportance(p=1),
                                          pruning_ratio=0.5, ignored_layers=[m.fc])
            pruner.step()
            return m
        roles['tp'] = torch_pruning
    t = round_robin(roles, rounds=2 if quick else 5, warmup=1, device=device)
    return [BenchRow('prune ResNet-50 50% (analysis + L1 + removal)', str(tuple(x.shape)), 'float32', device.type,
                     round(t['ours'] * 1e3, 1), 'Torch-Pruning' if 'tp' in t else '-',
                     round(t['tp'] * 1e3, 1) if 'tp' in t else None)]


def deploy_rows(quick: bool, device: torch.device) -> list[BenchRow]:
    """onnxruntime latency of a float ONNX vs the int8 QDQ ONNX of the same model (CPU only)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    from razor_ext.architectures import MnistCNN
    from razor_ext.export import to_onnx
    from razor_ext.quantization import calibrate, export_onnx, prepare

    model = MnistCNN(width=32).eval()
    x = torch.randn(64, 1, 28, 28)
    with tempfile.TemporaryDirectory() as tmp:
        fp = to_onnx(model, x, Path(tmp) / 'float.onnx', verify=False)
        q = prepare(model, x)
        calibrate(q, [torch.randn(64, 1, 28, 28) for _ in range(2)])
        qp = export_onnx(q, x, Path(tmp) / 'int8.onnx', verify=False)
        opts = ort.SessionOptions()
        sessions = {k: ort.InferenceSession(str(p), opts, providers=['CPUExecutionProvider'])
                    for k, p in (('float', fp), ('int8', qp))}
        feeds = {k: {s.get_inputs()[0].name: x.numpy()} for k, s in sessions.items()}
        t = round_robin({k: (lambda k=k: sessions[k].run(None, feeds[k])) for k in sessions},
                        rounds=10 if quick else 50)
    return [BenchRow('deploy: int8 QDQ ONNX (onnxruntime)', str(tuple(x.shape)), 'int8', 'cpu',
                     round(t['int8'] * 1e3, 3), 'float ONNX', round(t['float'] * 1e3, 3))]
