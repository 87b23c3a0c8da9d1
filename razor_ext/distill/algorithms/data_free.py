"""``DataFreeDistillation``: distil without data, alternating a generator step (images that make
the student and the frozen teachers disagree, or whatever ``generator_distiller`` scores) and
``student_iter`` student steps on fresh generated images (DFAD, ZSKT)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.algorithm.base_algorithm import BaseAlgorithm, _build_module
from razor_ext.distill.algorithms.single_teacher_distill import (_load_checkpoint,
                                                                 add_prefix, run_model)
from razor_ext.distill.configurable_distiller import ConfigurableDistiller
from razor_ext.registry import MODELS


def build_teachers(teachers: nn.Module | Mapping[str, Any]) -> dict[str, nn.Module]:
    """``{name: frozen eval-mode teacher}`` from MMRazor's ``{name: dict(build_cfg=...,
    ckpt_path=...)}`` (or ``{name: module | config}``, or one module named ``'teacher'``)."""
    if isinstance(teachers, nn.Module):
        teachers = {'teacher': teachers}
    if not isinstance(teachers, Mapping) or not teachers:
        raise TypeError(f'teachers must be a non-empty dict of name -> teacher config, got '
                        f'{type(teachers).__name__}')
    built: dict[str, nn.Module] = {}
    for name, cfg in teachers.items():
        if isinstance(cfg, Mapping) and 'build_cfg' in cfg:
            model = _build_module(cfg['build_cfg'], f'teacher {name!r}')
            if cfg.get('ckpt_path'):
                _load_checkpoint(model, cfg['ckpt_path'])
        else:
            model = _build_module(cfg, f'teacher {name!r}')
        built[name] = model.requires_grad_(False).eval()
    return built


def prepare_teacher_recorders(distiller: ConfigurableDistiller,
                              teachers: dict[str, nn.Module]) -> None:
    """Hook the distiller's teacher recorders. As MMRazor, sources are paths in the dict of
    teachers (``'res34.head.fc'``); with one teacher a path inside it (``'head.fc'``) works too."""
    sources = [r.source for r in distiller.teacher_recorders.recorders.values()
               if isinstance(getattr(r, 'source', None), str)]
    if len(teachers) == 1 and sources and not any(s.split('.', 1)[0] in teachers
                                                  for s in sources):
        distiller.prepare_from_teacher(next(iter(teachers.values())))
    else:
        distiller.prepare_from_teacher(nn.ModuleDict(teachers))


@MODELS.register_module()
class DataFreeDistillation(BaseAlgorithm):
    """Data-free distillation with a generator, MMRazor's ``DataFreeDistillation`` (DFAD: Fang et
    al., "Data-Free Adversarial Distillation", 2019; ZSKT: Micaelli & Storkey, "Zero-shot
    Knowledge Transfer via Adversarial Belief Matching", NeurIPS 2019).

    One ``train_step``: a generator step (``generator_distiller`` losses on
    ``generator(z)``; gradients flow through the student and the frozen teachers into the
    generator: a negative ``loss_weight`` makes it adversarial) and ``student_iter`` student steps
    (``distiller`` losses on new, detached generated images), student first when
    ``student_train_first``. The batch only gives the batch size.

    Args:
        architecture: the student. teachers: ``{name: dict(build_cfg=..., ckpt_path=...)}``
            (frozen; not in ``parameters()``). generator: e.g. ``ZSKTGenerator`` config.
        distiller, generator_distiller: ``ConfigurableDistiller`` configs; teacher sources are
            ``'<teacher name>.<module>'``.
        student_iter: student steps per train step; student_train_first: order of the steps.

    ``optimizer``: ``{'architecture': over the student, 'generator': over the generator}``.
    Shapes: generated images ``(N, 3, img_size, img_size)``, ``N`` the batch size.

    Example:
        >>> from razor_ext.distill.algorithms.zskt_generator import ZSKTGenerator
        >>> net = lambda: nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
        >>> rec = dict(fc=dict(type='ModuleOutputs', source='1'))
        >>> algo = DataFreeDistillation(net(), dict(t=dict(build_cfg=net())),
        ...     ZSKTGenerator(img_size=8, latent_dim=4, hidden_channels=8),
        ...     distiller=dict(type='ConfigurableDistiller', student_recorders=rec,
        ...         teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='t.1')),
        ...         distill_losses=dict(loss_kl=dict(type='KLDivergence')),
        ...         loss_forward_mappings=dict(loss_kl=dict(preds_S=dict(from_student=True, recorder='fc'),
        ...             preds_T=dict(from_student=False, recorder='fc')))),
        ...     generator_distiller=dict(type='ConfigurableDistiller', student_recorders=rec,
        ...         teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='t.1')),
        ...         distill_losses=dict(loss_kl=dict(type='KLDivergence', loss_weight=-1.0,
        ...             teacher_detach=False)),
        ...         loss_forward_mappings=dict(loss_kl=dict(preds_S=dict(from_student=True, recorder='fc'),
        ...             preds_T=dict(from_student=False, recorder='fc')))))
        >>> opt = dict(architecture=torch.optim.SGD(algo.student.parameters(), lr=0.1),
        ...            generator=torch.optim.Adam(algo.generator.parameters()))
        >>> sorted(algo.train_step((torch.zeros(4, 3, 8, 8), None), opt))
        ['distill.loss', 'distill.loss_kl', 'generator.loss', 'generator.loss_kl']
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any],
                 teachers: nn.Module | Mapping[str, Any], generator: nn.Module | Mapping[str, Any],
                 distiller: ConfigurableDistiller | Mapping[str, Any],
                 generator_distiller: ConfigurableDistiller | Mapping[str, Any],
                 student_iter: int = 1, student_train_first: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(architecture, **kwargs)
        if not isinstance(student_iter, int) or student_iter < 1:
            raise ValueError(f'student_iter must be an int >= 1, got {student_iter!r}')
        self.student_iter, self.student_train_first = student_iter, bool(student_train_first)
        self.generator = _build_module(generator, 'generator')
        self.distiller = _build_module(distiller, 'distiller')
        self.generator_distiller = _build_module(generator_distiller, 'generator_distiller')
        built = build_teachers(teachers)
        # Frozen and kept out of _modules: not in parameters() / state_dict().
        object.__setattr__(self, '_teachers', built)
        for d in (self.distiller, self.generator_distiller):
            d.prepare_from_student(self.student)
            prepare_teacher_recorders(d, built)

    @property
    def student(self) -> nn.Module:
        return self.architecture

    @property
    def teachers(self) -> dict[str, nn.Module]:
        return self.__dict__['_teachers']

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> DataFreeDistillation:
        super()._apply(fn, *args, **kwargs)
        for teacher in self.teachers.values():
            teacher._apply(fn, *args, **kwargs)
        return self

    def _run_teachers(self, images: Tensor) -> None:
        for teacher in self.teachers.values():
            teacher.eval()
            run_model(teacher, images, None, 'tensor')

    def _generate(self, batch_size: int) -> Tensor:
        latent = torch.randn(batch_size, self.generator.latent_dim, device=self.device)
        return self.generator(latent, batch_size)

    def _check_optimizer(self, optimizer: Any) -> None:
        if not isinstance(optimizer, Mapping) or not {'architecture', 'generator'} <= set(optimizer):
            raise TypeError("optimizer must be a dict with 'architecture' and 'generator' "
                            "optimizers")

    def _batch_size(self, data: Any) -> int:
        return len(self._preprocess(data, training=True)['inputs'])

    def train_student(self, batch_size: int, optimizer: torch.optim.Optimizer) -> dict[str, float]:
        """``student_iter`` steps of the student on fresh generated images (teachers frozen)."""
        log: dict[str, float] = {}
        for _ in range(self.student_iter):
            with torch.no_grad():
                fake = self._generate(batch_size)
            optimizer.zero_grad()
            with self.distiller.student_recorders:
                self._forward(fake)
            with self.distiller.teacher_recorders, torch.no_grad():
                self._run_teachers(fake)
            loss, log = self.parse_losses(self.distiller.compute_distill_losses())
            loss.backward()
            optimizer.step()
        return add_prefix(log, 'distill')

    def train_generator(self, batch_size: int, optimizer: torch.optim.Optimizer
                        ) -> dict[str, float]:
        """One generator step; the student's gradients of this loss are discarded."""
        optimizer.zero_grad()
        fake = self._generate(batch_size)
        if self.generator_distiller.student_recorders.recorders:
            with self.generator_distiller.student_recorders:
                self._forward(fake)
        with self.generator_distiller.teacher_recorders:
            self._run_teachers(fake)
        loss, log = self.parse_losses(self.generator_distiller.compute_distill_losses())
        loss.backward()
        optimizer.step()
        self.student.zero_grad(set_to_none=True)
        return add_prefix(log, 'generator')

    def train_step(self, data: Any, optimizer: Mapping[str, torch.optim.Optimizer]
                   ) -> dict[str, float]:
        self._check_optimizer(optimizer)
        batch_size = self._batch_size(data)
        log: dict[str, float] = {}
        if self.student_train_first:
            log.update(self.train_student(batch_size, optimizer['architecture']))
            log.update(self.train_generator(batch_size, optimizer['generator']))
        else:
            log.update(self.train_generator(batch_size, optimizer['generator']))
            log.update(self.train_student(batch_size, optimizer['architecture']))
        return log


__all__ = ['DataFreeDistillation', 'build_teachers', 'prepare_teacher_recorders']
