"""``DMCPChannelMutator``: the channel widths of DMCP (Guo et al., "DMCP: Differentiable Markov
Channel Pruning for Neural Networks", CVPR 2020) as a Markov chain over channel groups with
learnable transition parameters."""
from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.analysis.analyzer import split_inputs
from razor_ext.analysis.tracer import frozen_state
from razor_ext.pruning.mutators.channel_mutator import ChannelMutator, sequential_scores
from razor_ext.registry import MODELS

_MODES = ('max', 'min', 'random', 'direct', 'expected')


def arch_message(num_channels: int, pruning_cfg: tuple[float, float, float]) -> tuple[int, int, int]:
    """``(group_size, num_groups, min_ch)`` of a unit: ``min_ch`` channels always kept, then
    ``num_groups`` groups of ``group_size`` channels, each kept only if the one before is.

    Example:
        >>> arch_message(64, (0.1, 1, 0.05))
        (3, 18, 10)
    """
    min_rate, max_rate, offset = pruning_cfg
    group_size = int(offset * num_channels / max_rate)
    num_groups = int((max_rate - min_rate) / offset + 1e-4)
    min_ch = num_channels - group_size * num_groups
    if min_ch <= 0:
        raise ValueError(f'pruning_cfg {pruning_cfg} leaves no channel of a {num_channels}-channel '
                         f'unit')
    return group_size, num_groups, min_ch


def markov_keep_probs(arch_param: Tensor) -> Tensor:
    """``(num_groups,)`` marginal probabilities that each group is kept: ``cumprod(exp(-max(a,
    0)))`` (a group is kept with probability ``exp(-a_i)`` given the one before it is)."""
    return torch.cumprod(torch.exp(-arch_param.clamp(min=0)), 0)


@MODELS.register_module()
class DMCPChannelMutator(nn.Module):
    """DMCP's mutator: one arch parameter vector per channel unit (an ``nn.Module``, so an
    optimizer ``mutator`` can train them), the subnet samplers, the Markov gating of the norm
    layers while the arch parameters train, and the expected FLOPs.

    Args:
        channel_unit_cfg, parse_cfg: as :class:`ChannelMutator` (units are sequential: a unit of
            ``n`` channels keeps its first ``n``).
        pruning_cfg: ``(min_rate, max_rate, rate_offset)``: group size ``rate_offset`` of the
            channels; rates from ``min_rate`` to ``max_rate``.

    Example:
        >>> m = nn.Sequential(nn.Conv2d(3, 20, 3), nn.BatchNorm2d(20), nn.ReLU(), nn.Conv2d(20, 4, 1))
        >>> mut = DMCPChannelMutator(parse_cfg=dict(type='ChannelAnalyzer', demo_input=(1, 3, 8, 8)))
        >>> mut.prepare_from_supernet(m)
        >>> mut.sample_subnet('min', arch_train=False)
        {'0_(0, 20)_20': 2}
        >>> m[0].weight.count_nonzero(dim=(1, 2, 3)).gt(0).sum().item()  # min_ch = 20 - 1 * 18
        2
    """

    def __init__(self, channel_unit_cfg: Mapping[str, Any] | None = None,
                 parse_cfg: Mapping[str, Any] | None = None,
                 pruning_cfg: tuple[float, float, float] = (0.1, 1, 0.05), **kwargs: Any) -> None:
        super().__init__()
        self.pruning_cfg = tuple(pruning_cfg)
        channels = ChannelMutator(channel_unit_cfg, parse_cfg)
        object.__setattr__(self, 'channels', channels)  # not a module: holds the supernet
        self.arch_params = nn.ParameterDict()
        self.arch_attrs: list[tuple[int, int, int]] = []
        self.arch_train = False
        self._conv_shapes: list[tuple[int, int, int, int, int, int]] = []
        self._gate_handles: list[Any] = []

    @property
    def units(self) -> list[Any]:
        return self.channels.units

    def prepare_from_supernet(self, supernet: nn.Module, example_inputs: Any = None) -> None:
        """Find the units, make them mask-driven, one arch parameter vector per unit (zeros:
        every group kept with probability 1), gate the norm layers producing a unit's channels,
        and measure the per-layer sizes the FLOPs need."""
        self.channels.prepare_from_supernet(supernet, example_inputs)
        self.arch_attrs = [arch_message(u.num_channels, self.pruning_cfg) for u in self.units]
        for i, (_, num_groups, _) in enumerate(self.arch_attrs):
            self.arch_params[str(i)] = nn.Parameter(torch.zeros(num_groups))
        unit_of_module: dict[str, int] = {}
        for i, unit in enumerate(self.units):
            for module, start, end in unit.unit.output_related:
                if start == 0 and end == unit.num_channels:
                    unit_of_module.setdefault(module, i)
        self._gate_handles = []
        for name, module in supernet.named_modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and name in unit_of_module:
                self._gate_handles.append(
                    module.register_forward_hook(self._gate_hook(unit_of_module[name])))
        self._measure_layers(supernet, unit_of_module)

    def _gate_hook(self, index: int) -> Any:
        def hook(module: nn.Module, inputs: Any, out: Tensor) -> Tensor:
            if not self.arch_train:
                return out
            group_size, num_groups, min_ch = self.arch_attrs[index]
            if num_groups == 0 or group_size == 0:
                return out
            prob = markov_keep_probs(self.arch_params[str(index)])
            scale = torch.cat([out.new_ones(min_ch), prob.repeat_interleave(group_size)])
            return out * scale.view(1, -1, *([1] * (out.dim() - 2)))
        return hook

    def _measure_layers(self, supernet: nn.Module, unit_of_module: dict[str, int]) -> None:
        """Per conv / linear layer: ``(in unit, out unit, in, out, groups, k*k*H_out*W_out)``
        (unit -1: not prunable), from one forward on the analysis inputs."""
        in_unit: dict[str, int] = {}
        for i, unit in enumerate(self.units):
            for module, start, end in unit.unit.input_related:
                if start == 0 and end == unit.num_channels:
                    in_unit.setdefault(module, i)
        shapes: list[tuple[int, int, int, int, int, int]] = []
        handles = []
        for name, module in supernet.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                def hook(mod: nn.Module, inp: Any, out: Tensor, _n: str = name) -> None:
                    if isinstance(mod, nn.Conv2d):
                        cin, cout, groups = mod.in_channels, mod.out_channels, mod.groups
                        per = mod.kernel_size[0] * mod.kernel_size[1] * out.shape[-1] * out.shape[-2]
                    else:
                        cin, cout, groups, per = mod.in_features, mod.out_features, 1, 1
                    shapes.append((in_unit.get(_n, -1), unit_of_module.get(_n, -1), cin, cout,
                                   groups, per))
                handles.append(module.register_forward_hook(hook))
        args, kwargs = split_inputs(self.channels.example_inputs)
        try:
            with frozen_state(supernet), torch.no_grad():
                was, self.arch_train = self.arch_train, False
                supernet(*args, **kwargs)
                self.arch_train = was
        finally:
            for h in handles:
                h.remove()
        self._conv_shapes = shapes

    def choice_of(self, mode: str, index: int) -> int | Tensor:
        """Channels of unit ``index``: ``'max'`` / ``'min'`` / ``'random'`` (uniform over the
        group counts) / ``'direct'`` (a walk of the Markov chain) / ``'expected'`` (a
        differentiable tensor: ``min_ch + group_size * sum(keep probabilities)``)."""
        if mode not in _MODES:
            raise ValueError(f'mode must be one of {_MODES}, got {mode!r}')
        group_size, num_groups, min_ch = self.arch_attrs[index]
        if mode == 'max':
            return min_ch + group_size * num_groups
        if mode == 'min':
            return min_ch
        if mode == 'random':
            return min_ch + group_size * random.randint(0, num_groups)
        if num_groups == 0:
            return min_ch
        param = self.arch_params[str(index)]
        if mode == 'expected':
            return markov_keep_probs(param).sum() * group_size + min_ch
        keep = torch.exp(-param.detach().clamp(min=0))
        channels = min_ch
        for i in range(num_groups):
            if random.uniform(0, 1) > keep[i]:
                break
            channels += group_size
        return channels

    def sample_subnet(self, mode: str, arch_train: bool) -> dict[str, Any]:
        """Set every unit to ``mode``'s width (the first channels kept; ``'expected'`` leaves
        the masks alone) and turn the norm-layer gating on or off; returns the choices."""
        choices = {u.name: self.choice_of(mode, i) for i, u in enumerate(self.units)}
        if mode != 'expected':
            self.channels.set_choices(choices, scores=sequential_scores(self.channels))
        self.arch_train = bool(arch_train)
        return choices

    def expected_flops(self) -> Tensor:
        """Multiply-adds of the conv and linear layers at the expected widths (differentiable
        in the arch parameters); a layer's input / output width is its unit's expected width."""
        return self.flops_at([self.choice_of('expected', i) for i in range(len(self.units))])

    def current_flops(self) -> float:
        """Multiply-adds of the conv and linear layers at the widths now set."""
        widths = [u.unit.divisor * int(u.kept.sum()) for u in self.units]
        return float(self.flops_at(widths))

    def flops_at(self, widths: list[Any]) -> Tensor:
        """Multiply-adds of the conv and linear layers with unit ``i`` at ``widths[i]``."""
        expected = widths
        total = torch.zeros(())
        for in_u, out_u, cin, cout, groups, per in self._conv_shapes:
            c_in = expected[in_u] if in_u >= 0 else cin
            c_out = expected[out_u] if out_u >= 0 else cout
            if groups > 1 and groups == cin == cout:  # depthwise: one input per output
                total = total + per * c_out
            else:
                total = total + per * c_in * c_out / groups
        return total

    @property
    def current_choices(self) -> dict[str, Any]:
        return self.channels.current_choices

    def set_choices(self, choices: Mapping[str, Any]) -> None:
        self.channels.set_choices(choices, scores=sequential_scores(self.channels))

    def to_static(self, model: nn.Module | None = None) -> nn.Module:
        """The physically pruned model at the current choices, without the gating hooks."""
        static = self.channels.to_static(model)
        ids = {h.id for h in self._gate_handles}
        for module in static.modules():
            for hook_id in ids & set(module._forward_hooks):
                del module._forward_hooks[hook_id]
        return static


__all__ = ['DMCPChannelMutator', 'arch_message', 'markov_keep_probs']
