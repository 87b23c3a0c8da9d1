"""DAFLDataFreeDistillation: distil without data, from images a generator learns to make."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.distill.algorithms.data_free import DataFreeDistillation
from razor_ext.distill.algorithms.single_teacher_distill import add_prefix
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
class DAFLDataFreeDistillation(DataFreeDistillation):
    """Data-free distillation (DAFL): a generator is trained so the frozen teachers give
    confident, diverse, strongly activated outputs on its images (``generator_distiller``
    losses, e.g. OnehotLikeLoss + InformationEntropyLoss + ActivationLoss); the student is
    distilled on the same images, detached (``distiller``, e.g. KLDivergence).

    Paper: Chen et al., "DAFL: Data-Free Learning of Student Networks", ICCV 2019,
    https://arxiv.org/abs/1904.01186.

    As MMRazor's: one generated batch per ``train_step`` serves both losses; both are computed,
    then the generator and the student are updated (``student_iter`` is not used).

    Args:
        architecture: the student.
        teachers: ``{name: module | config | dict(build_cfg=cfg, ckpt_path=None)}`` (MMRazor's
            form) or a single module. Frozen, not registered (absent from ``parameters()``);
            recorder sources are ``'<name>.<module>'`` (or, with one teacher, ``'<module>'``).
        generator: a :class:`DAFLGenerator` or config; registered.
        distiller, generator_distiller: :class:`ConfigurableDistiller` configs.

    ``train_step(data, optimizer)``: ``optimizer`` is a dict ``{'architecture': opt over
    algo.student.parameters(), 'generator': opt over algo.generator.parameters()}``; ``data``
    only gives the batch size (its inputs are not used).
    """

    def train_step(self, data: Any, optimizer: Mapping[str, torch.optim.Optimizer]
                   ) -> dict[str, float]:
        self._check_optimizer(optimizer)
        fake = self._generate(self._batch_size(data))
        for opt in optimizer.values():
            opt.zero_grad()
        if self.generator_distiller.student_recorders.recorders:
            with self.generator_distiller.student_recorders:
                self._forward(fake)
        with self.generator_distiller.teacher_recorders:
            self._run_teachers(fake)
        gen_loss, gen_log = self.parse_losses(self.generator_distiller.compute_distill_losses())
        with self.distiller.student_recorders:
            self._forward(fake.detach())
        with self.distiller.teacher_recorders, torch.no_grad():
            self._run_teachers(fake.detach())
        loss, log = self.parse_losses(self.distiller.compute_distill_losses())
        gen_loss.backward()
        optimizer['generator'].step()
        # The generator loss must not train the student (only the distill loss does).
        self.student.zero_grad(set_to_none=True)
        loss.backward()
        optimizer['architecture'].step()
        return {**add_prefix(gen_log, 'generator'), **add_prefix(log, 'distill')}
