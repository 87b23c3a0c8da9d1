"""A teacher/student pair of different families for the distillation tests and benchmark:
a small ResNet-style teacher (BN, residual) and a MobileNet-style student (depthwise)."""
from __future__ import annotations

import torch
from torch import nn


class ToyResNet(nn.Module):
    """Teacher: stem conv, one residual block, global pool, fc. Features ``layer1`` are
    ``(N, width, H, W)``."""

    def __init__(self, width: int = 16, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        self.layer1 = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=False),
                                    nn.BatchNorm2d(width), nn.ReLU(),
                                    nn.Conv2d(width, width, 3, padding=1, bias=False),
                                    nn.BatchNorm2d(width))
        self.relu = nn.ReLU()
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.relu(x + self.layer1(x))
        return self.fc(x.mean((2, 3)))


class ToyMobileNet(nn.Module):
    """Student: pointwise stem, depthwise-separable block, global pool, fc. Features
    ``block`` are ``(N, width, H, W)``."""

    def __init__(self, width: int = 8, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, groups=width),
                                   nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, width, 1))
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block(self.stem(x))
        return self.fc(torch.relu(x).mean((2, 3)))


def kd_config(teacher_width: int = 16, student_width: int = 8, **algo_kwargs: object) -> dict:
    """An MMRazor-style config: logits KD + a CWD feature loss through a conv connector."""
    return dict(
        type='SingleTeacherDistill',
        architecture=dict(type=ToyMobileNet, width=student_width),
        teacher=dict(type=ToyResNet, width=teacher_width),
        distiller=dict(
            type='ConfigurableDistiller',
            student_recorders=dict(fc=dict(type='ModuleOutputs', source='fc'),
                                   feat=dict(type='ModuleOutputs', source='block')),
            teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='fc'),
                                   feat=dict(type='ModuleOutputs', source='layer1')),
            connectors=dict(s_feat=dict(type='ConvModuleConnector', in_channel=student_width,
                                        out_channel=teacher_width, act_cfg=None)),
            distill_losses=dict(loss_kl=dict(type='KLDivergence', tau=4.0, loss_weight=1.0),
                                loss_cwd=dict(type='ChannelWiseDivergence', tau=2.0,
                                              loss_weight=1.0)),
            loss_forward_mappings=dict(
                loss_kl=dict(preds_S=dict(recorder='fc', from_student=True),
                             preds_T=dict(recorder='fc', from_student=False)),
                loss_cwd=dict(preds_S=dict(recorder='feat', from_student=True,
                                           connector='s_feat'),
                              preds_T=dict(recorder='feat', from_student=False)))),
        **algo_kwargs)
