"""A tiny supernet with its own minimal mutator, for algorithm tests that must not depend on
the search-space issue: one op choice (3x3 / 5x5 / skip, or their softmax mix for DARTS) and one
elastic width, on MNIST-5k."""
from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import nn


class ChoiceOp(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self._candidates = nn.ModuleDict({
            'conv3x3': nn.Conv2d(channels, channels, 3, padding=1),
            'conv5x5': nn.Conv2d(channels, channels, 5, padding=2),
            'skip': nn.Identity()})
        self.current_choice = 'conv3x3'
        self.alpha: nn.Parameter | None = None  # set by a DARTS mutator

    @property
    def choices(self) -> list[str]:
        return list(self._candidates)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.alpha is not None:
            w = F.softmax(self.alpha, 0)
            return sum(wi * op(x) for wi, op in zip(w, self._candidates.values()))
        return self._candidates[self.current_choice](x)


class WidthConvBN(nn.Module):
    """Conv + BN whose output width is ``current_choice`` leading channels."""

    def __init__(self, cin: int, cout: int, widths: list[int]) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout)
        self.choices, self.current_choice = list(widths), max(widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.current_choice
        y = F.conv2d(x, self.conv.weight[:w], padding=1)
        bn = self.bn
        momentum = bn.momentum
        if self.training and momentum is None:  # cumulative average, as nn.BatchNorm does
            bn.num_batches_tracked += 1
            momentum = 1.0 / float(bn.num_batches_tracked)
        return F.batch_norm(y, bn.running_mean[:w], bn.running_var[:w], bn.weight[:w],
                            bn.bias[:w], self.training, momentum or 0.0, bn.eps)


class TinySupernet(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (4, 8, 16)) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.op = ChoiceOp(8)
        self.width = WidthConvBN(8, max(widths), list(widths))
        self.fc = nn.Linear(max(widths), 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.width(self.op(self.stem(x))))
        x = x.mean((2, 3))
        return F.linear(x, self.fc.weight[:, :x.shape[1]], self.fc.bias)


class TinyMutator(nn.Module):
    """NasMutator's surface: prepare_from_supernet, sample/set/max/min choices, arch_params."""

    def __init__(self, diff: bool = False) -> None:
        super().__init__()
        self.diff = diff
        self.arch_params = nn.ParameterDict()
        self.mutables: dict[str, nn.Module] = {}
        self.history: list[dict] = []

    def prepare_from_supernet(self, model: nn.Module) -> None:
        self.mutables = {n: m for n, m in model.named_modules()
                         if isinstance(m, (ChoiceOp, WidthConvBN))}

    def prepare_arch_params(self) -> None:
        if self.diff:
            for name, m in self.mutables.items():
                if isinstance(m, ChoiceOp):
                    m.alpha = self.arch_params[name.replace('.', '_')] = nn.Parameter(
                        1e-3 * torch.randn(len(m.choices)))

    @property
    def current_choices(self) -> dict:
        return {n: m.current_choice for n, m in self.mutables.items()}

    @property
    def max_choices(self) -> dict:
        return {n: (m.choices[0] if isinstance(m, ChoiceOp) else max(m.choices))
                for n, m in self.mutables.items()}

    @property
    def min_choices(self) -> dict:
        return {n: (m.choices[-1] if isinstance(m, ChoiceOp) else min(m.choices))
                for n, m in self.mutables.items()}

    def sample_choices(self) -> dict:
        return {n: random.choice(m.choices) for n, m in self.mutables.items()}

    def set_choices(self, choices: dict) -> None:
        self.history.append(dict(choices))
        for n, c in choices.items():
            self.mutables[n].current_choice = c
