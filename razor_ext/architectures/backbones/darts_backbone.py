"""``DartsBackbone``: the DARTS cell search space (Liu et al. 2019) with MMRazor's class names,
arguments and module paths (``cells.i.nodes.j.route._candidates.<edge>._candidates.<op>``), so
MMRazor's DARTS configs build and its subnet files (``normal_n2: chosen: [normal_n2_p1, ...]``,
``normal_n2_p0: chosen: [sep_conv_3x3]``) load.

A cell has two inputs (the outputs of the two previous cells, brought to ``channels`` by
``preproc0`` / ``preproc1``) and ``num_nodes`` nodes; node ``k`` (named ``n{k+2}``) reads every
earlier tensor through one edge each (a ``DiffMutableOP`` over the DARTS primitives, aliased
``{normal|reduce}_n{k}_p{i}``) and a route (``DiffChoiceRoute``, aliased ``{normal|reduce}_n{k}``)
mixes the edges. Aliases are shared by all normal (all reduction) cells, so every normal cell
has the same genotype, as in DARTS. The cell outputs the concatenation of its nodes.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from razor_ext.architectures.ops.layer_builders import build_activation_layer, build_norm_layer
from razor_ext.registry import MODELS

__all__ = ['AuxiliaryModule', 'Cell', 'DartsBackbone', 'FactorizedReduce', 'Node', 'StandardConv']

_RELU = {'type': 'ReLU'}
_BN = {'type': 'BN'}


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset 1x1 stride-2 convs (``[N, C_in, H, W] ->
    [N, C_out, H/2, W/2]``, H and W even)."""

    def __init__(self, in_channels: int, out_channels: int, act_cfg: Mapping[str, Any] = _RELU,
                 norm_cfg: Mapping[str, Any] = _BN) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.relu = build_activation_layer(act_cfg)
        self.conv1 = nn.Conv2d(in_channels, out_channels // 2, 1, stride=2, bias=False)
        self.conv2 = nn.Conv2d(in_channels, out_channels // 2, 1, stride=2, bias=False)
        self.bn = build_norm_layer(norm_cfg, out_channels)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv1(x), self.conv2(x[:, :, 1:, 1:])], 1))


class StandardConv(nn.Module):
    """ReLU, conv, BN (DARTS's preprocessing of a cell's inputs)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, act_cfg: Mapping[str, Any] = _RELU,
                 norm_cfg: Mapping[str, Any] = _BN) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.net = nn.Sequential(
            build_activation_layer(act_cfg),
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False),
            build_norm_layer(norm_cfg, out_channels)[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Node(nn.Module):
    """One node: an edge from each of ``num_prev_nodes`` tensors, mixed by a route.

    The first ``num_downsample_nodes`` inputs (the cell inputs of a reduction cell) are read
    with stride 2.
    """

    def __init__(self, node_id: str, num_prev_nodes: int, channels: int,
                 num_downsample_nodes: int, mutable_cfg: Mapping[str, Any],
                 route_cfg: Mapping[str, Any]) -> None:
        super().__init__()
        edges = nn.ModuleDict()
        for i in range(num_prev_nodes):
            edge_id = f'{node_id}_p{i}'
            cfg = copy.deepcopy(dict(mutable_cfg))
            cfg['module_kwargs'] = {**dict(cfg.get('module_kwargs') or {}), 'in_channels': channels,
                                    'out_channels': channels,
                                    'stride': 2 if i < num_downsample_nodes else 1}
            cfg['alias'] = edge_id
            edges[edge_id] = MODELS.build(cfg)
        cfg = copy.deepcopy(dict(route_cfg))
        cfg.update(alias=node_id, edges=edges)
        self.route = MODELS.build(cfg)

    def forward(self, prev_nodes: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.route(prev_nodes)


class Cell(nn.Module):
    """A DARTS cell: ``forward(s0, s1) -> [N, num_nodes * channels, H', W']``."""

    def __init__(self, num_nodes: int, channels: int, prev_channels: int,
                 prev_prev_channels: int, reduction: bool, prev_reduction: bool,
                 mutable_cfg: Mapping[str, Any], route_cfg: Mapping[str, Any],
                 act_cfg: Mapping[str, Any] = _RELU, norm_cfg: Mapping[str, Any] = _BN) -> None:
        super().__init__()
        self.reduction, self.num_nodes = reduction, num_nodes
        # After a reduction cell, s0 (two cells back) has twice the resolution of s1.
        if prev_reduction:
            self.preproc0: nn.Module = FactorizedReduce(prev_prev_channels, channels, act_cfg,
                                                        norm_cfg)
        else:
            self.preproc0 = StandardConv(prev_prev_channels, channels, 1, 1, 0, act_cfg, norm_cfg)
        self.preproc1 = StandardConv(prev_channels, channels, 1, 1, 0, act_cfg, norm_cfg)
        kind = 'reduce' if reduction else 'normal'
        self.nodes = nn.ModuleList(
            Node(f'{kind}_n{depth}', depth, channels, 2 if reduction else 0, mutable_cfg,
                 route_cfg)
            for depth in range(2, num_nodes + 2))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        tensors = [self.preproc0(s0), self.preproc1(s1)]
        for node in self.nodes:
            tensors.append(node(tensors))
        return torch.cat(tensors[2:], 1)


class AuxiliaryModule(nn.Module):
    """DARTS's auxiliary tower at 2/3 depth (expects an 8x8 feature map: 2x2 after pooling)."""

    def __init__(self, in_channels: int, base_channels: int, out_channels: int,
                 norm_cfg: Mapping[str, Any] = _BN) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.ReLU(),
            nn.AvgPool2d(5, stride=2, padding=0, count_include_pad=False),
            nn.Conv2d(in_channels, base_channels, 1, bias=False),
            build_norm_layer(norm_cfg, base_channels)[1],
            nn.ReLU(inplace=True),
            nn.Conv2d(base_channels, out_channels, 2, bias=False),
            build_norm_layer(norm_cfg, out_channels)[1],
            nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@MODELS.register_module()
class DartsBackbone(nn.Module):
    """The DARTS search space: a stem and ``num_layers`` cells, reduction cells (stride 2,
    channels doubled) at 1/3 and 2/3 of the depth.

    Args:
        in_channels: image channels.
        base_channels: channels of a node in the first cells.
        mutable_cfg: config of each edge (``DiffMutableOP`` over ``Darts*`` ops).
        route_cfg: config of each node's route (``DiffChoiceRoute``).
        num_layers: cells.
        num_nodes: nodes per cell.
        stem_multiplier: the stem has ``stem_multiplier * base_channels`` channels.
        out_indices: cells whose outputs are returned; the last must be ``num_layers - 1``.
        auxliary: add the auxiliary tower (MMRazor's spelling); needs ``aux_channels`` and
            ``aux_out_channels``. Its output comes first in training mode.
        act_cfg, norm_cfg: activation / norm configs (DARTS search: ``BN`` with ``affine=False``).

    Shapes: ``[N, in_channels, H, W]`` -> a tuple of ``[N, num_nodes * C_i, H_i, W_i]``
    (H, W divisible by 4).

    Example:
        >>> mutable = dict(type='DiffMutableOP', candidates=dict(
        ...     skip_connect=dict(type='DartsSkipConnect'),
        ...     sep_conv_3x3=dict(type='DartsSepConv', kernel_size=3)))
        >>> net = DartsBackbone(1, 4, mutable, dict(type='DiffChoiceRoute', with_arch_param=True),
        ...                     num_layers=3, num_nodes=2, out_indices=(2,))
        >>> net(torch.randn(2, 1, 8, 8))[-1].shape
        torch.Size([2, 32, 2, 2])
    """

    def __init__(self, in_channels: int, base_channels: int, mutable_cfg: Mapping[str, Any],
                 route_cfg: Mapping[str, Any], num_layers: int = 8, num_nodes: int = 4,
                 stem_multiplier: int = 3, out_indices: Sequence[int] = (7,),
                 auxliary: bool = False, aux_channels: int | None = None,
                 aux_out_channels: int | None = None, act_cfg: Mapping[str, Any] = _RELU,
                 norm_cfg: Mapping[str, Any] = _BN) -> None:
        super().__init__()
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f'num_layers must be a positive int, got {num_layers!r}')
        if not isinstance(num_nodes, int) or num_nodes < 1:
            raise ValueError(f'num_nodes must be a positive int, got {num_nodes!r}')
        out_indices = tuple(out_indices)
        if not out_indices or out_indices[-1] != num_layers - 1:
            raise ValueError(f'out_indices must end with the last cell ({num_layers - 1}), '
                             f'got {out_indices}')
        self.in_channels, self.base_channels = in_channels, base_channels
        self.num_layers, self.num_nodes = num_layers, num_nodes
        self.stem_multiplier, self.out_indices = stem_multiplier, out_indices
        self.act_cfg, self.norm_cfg = dict(act_cfg), dict(norm_cfg)
        if auxliary and (aux_channels is None or aux_out_channels is None):
            raise ValueError('auxliary=True needs aux_channels and aux_out_channels')
        self.auxliary_indice = 2 * num_layers // 3 if auxliary else -1

        stem_channels = stem_multiplier * base_channels
        # The stem's BN is affine even when the cells' BN is not (DARTS).
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_channels, 3, 1, 1, bias=False),
            build_norm_layer({**self.norm_cfg, 'affine': True}, stem_channels)[1])
        prev_prev, prev, channels = stem_channels, stem_channels, base_channels
        self.cells = nn.ModuleList()
        reduction = False
        for i in range(num_layers):
            prev_reduction, reduction = reduction, i in (num_layers // 3, 2 * num_layers // 3)
            if reduction:
                channels *= 2
            self.cells.append(Cell(num_nodes, channels, prev, prev_prev, reduction,
                                   prev_reduction, mutable_cfg, route_cfg, self.act_cfg,
                                   self.norm_cfg))
            prev_prev, prev = prev, channels * num_nodes
            if i == self.auxliary_indice:
                self.auxliary_module = AuxiliaryModule(prev, aux_channels, aux_out_channels,
                                                       self.norm_cfg)
        self.out_channels = prev

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs: list[torch.Tensor] = []
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i in self.out_indices:
                outs.append(s1)
            if i == self.auxliary_indice and self.training:
                outs.insert(0, self.auxliary_module(s1))
        return tuple(outs)
