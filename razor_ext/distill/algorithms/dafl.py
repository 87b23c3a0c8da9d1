"""DAFLDataFreeDistillation: distil without data, from images a generator learns to make."""
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


@MODELS.register_module()
class DAFLGenerator(nn.Module):
    """DAFL's generator: latent ``(N, latent_dim)`` -> images ``(N, out_channels, img_size, img_size)``.

    Example:
        >>> DAFLGenerator(img_size=8, latent_dim=4, hidden_channels=8)(batch_size=2).shape
        torch.Size([2, 3, 8, 8])
    """

    def __init__(self, img_size: int = 32, latent_dim: int = 1000, hidden_channels: int = 128,
                 scale_factor: int = 2, bn_eps: float = 0.8, leaky_slope: float = 0.2,
                 out_channels: int = 3) -> None:
        super().__init__()
        if img_size % (scale_factor ** 2):
            raise ValueError(f'img_size {img_size} must be divisible by scale_factor**2')
        self.img_size, self.latent_dim, self.hidden_channels = img_size, latent_dim, hidden_channels
        self.init_size = img_size // scale_factor ** 2
        self.scale_factor = scale_factor
        self.linear = nn.Linear(latent_dim, hidden_channels * self.init_size ** 2)
        self.bn1 = nn.BatchNorm2d(hidden_channels)
        self.conv_blocks = nn.Sequential(
            nn.Conv2d(hidden_channels, hidden_channels, 3, padding=1),
            nn.BatchNorm2d(hidden_channels, eps=bn_eps), nn.LeakyReLU(leaky_slope),
            nn.Upsample(scale_factor=scale_factor),
            nn.Conv2d(hidden_channels, hidden_channels // 2, 3, padding=1),
            nn.BatchNorm2d(hidden_channels // 2, eps=bn_eps), nn.LeakyReLU(leaky_slope),
            nn.Conv2d(hidden_channels // 2, out_channels, 3, padding=1), nn.Tanh(),
            nn.BatchNorm2d(out_channels, affine=False))

    def forward(self, data: Tensor | None = None, batch_size: int = 1) -> Tensor:
        if data is None:
            data = torch.randn(batch_size, self.latent_dim, device=self.linear.weight.device)
        x = self.linear(data).view(data.size(0), self.hidden_channels, self.init_size,
                                   self.init_size)
        x = nn.functional.interpolate(self.bn1(x), scale_factor=self.scale_factor)
        return self.conv_blocks(x)


@MODELS.register_module()
class DAFLDataFreeDistillation(BaseAlgorithm):
    """Data-free distillation (DAFL): a generator is trained so the frozen teachers give
    confident, diverse, strongly activated outputs on its images (``generator_distiller``
    losses, e.g. OnehotLikeLoss + InformationEntropyLoss + ActivationLoss); the student is
    distilled on the generated images (``distiller``, e.g. KLDivergence).

    Paper: Chen et al., "DAFL: Data-Free Learning of Student Networks", ICCV 2019,
    https://arxiv.org/abs/1904.01186.

    Args:
        architecture: the student.
        teachers: ``{name: module | config | dict(build_cfg=cfg, ckpt_path=None)}`` (MMRazor's
            form) or a single module. Frozen, not registered (absent from ``parameters()``).
        generator: a :class:`DAFLGenerator` or config; registered.
        distiller, generator_distiller: :class:`ConfigurableDistiller` configs (teacher
            recorders are initialised on every teacher).
        student_iter: student updates per generator update.

    ``train_step(data, optimizer)``: ``optimizer`` is a dict ``{'architecture': opt over
    algo.student.parameters(), 'generator': opt over algo.generator.parameters()}``; ``data``
    only gives the batch size (its inputs are not used).
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any],
                 teachers: nn.Module | Mapping[str, Any], generator: nn.Module | Mapping[str, Any],
                 distiller: ConfigurableDistiller | Mapping[str, Any],
                 generator_distiller: ConfigurableDistiller | Mapping[str, Any],
                 student_iter: int = 1, **kwargs: Any) -> None:
        super().__init__(architecture, **kwargs)
        self.generator = _build_module(generator, 'generator')
        self.distiller = _build_module(distiller, 'distiller')
        self.generator_distiller = _build_module(generator_distiller, 'generator_distiller')
        if isinstance(teachers, nn.Module):
            teachers = {'teacher': teachers}
        built: dict[str, nn.Module] = {}
        for name, cfg in teachers.items():
            if isinstance(cfg, Mapping) and 'build_cfg' in cfg:
                model = _build_module(cfg['build_cfg'], f'teacher {name!r}')
                if cfg.get('ckpt_path'):
                    _load_checkpoint(model, cfg['ckpt_path'])
            else:
                model = _build_module(cfg, f'teacher {name!r}')
            built[name] = model.requires_grad_(False).eval()
        # Frozen and kept out of _modules: not in parameters()/state_dict().
        object.__setattr__(self, '_teachers', built)
        if not isinstance(student_iter, int) or student_iter < 1:
            raise ValueError(f'student_iter must be an int >= 1, got {student_iter!r}')
        self.student_iter = student_iter
        for d in (self.distiller, self.generator_distiller):
            d.prepare_from_student(self.student)
            for teacher in built.values():
                d.prepare_from_teacher(teacher)

    @property
    def student(self) -> nn.Module:
        return self.architecture

    @property
    def teachers(self) -> dict[str, nn.Module]:
        return self.__dict__['_teachers']

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> DAFLDataFreeDistillation:
        super()._apply(fn, *args, **kwargs)
        for teacher in self.teachers.values():
            teacher._apply(fn, *args, **kwargs)
        return self

    def _run_teachers(self, images: Tensor) -> None:
        for teacher in self.teachers.values():
            teacher.eval()
            run_model(teacher, images, None, 'tensor')

    def train_step(self, data: Any, optimizer: Mapping[str, torch.optim.Optimizer]
                   ) -> dict[str, float]:
        if not isinstance(optimizer, Mapping) or not {'architecture', 'generator'} <= set(optimizer):
            raise TypeError("optimizer must be a dict with 'architecture' and 'generator' "
                            "optimizers")
        batch = self._preprocess(data, training=True)['inputs']
        batch_size = len(batch)
        log_vars: dict[str, float] = {}
        # Generator step: gradients flow through the frozen teachers into the generator.
        optimizer['generator'].zero_grad()
        fake = self.generator(batch_size=batch_size)
        with self.generator_distiller.teacher_recorders:
            self._run_teachers(fake)
        if self.generator_distiller.student_recorders.recorders:
            with self.generator_distiller.student_recorders:
                self._forward(fake)
        gen_loss, gen_log = self.parse_losses(self.generator_distiller.compute_distill_losses())
        gen_loss.backward()
        optimizer['generator'].step()
        log_vars.update(add_prefix(gen_log, 'generator'))
        fake = fake.detach()
        for _ in range(self.student_iter):
            optimizer['architecture'].zero_grad()
            with self.distiller.teacher_recorders, torch.no_grad():
                self._run_teachers(fake)
            with self.distiller.student_recorders:
                self._forward(fake)
            loss, log = self.parse_losses(self.distiller.compute_distill_losses())
            loss.backward()
            optimizer['architecture'].step()
        log_vars.update(add_prefix(log, 'distill'))
        return log_vars
