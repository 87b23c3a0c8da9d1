"""mmcls's ``VisionTransformerClsHead`` and MMRazor's ``DeiTClsHead``: linear heads on the class
token (and DeiT's distillation token) of a :class:`VisionTransformer`'s last output."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from razor_ext.architectures.heads.linear_head import LinearClsHead
from razor_ext.architectures.ops.layer_builders import build_activation_layer
from razor_ext.registry import MODELS


@MODELS.register_module(name=['VisionTransformerClsHead', 'mmcls.VisionTransformerClsHead'])
class VisionTransformerClsHead(LinearClsHead):
    """``layers.head`` (Linear) on the class token; with ``hidden_dim``, ``layers.pre_logits`` +
    ``layers.act`` first. Shapes: last feature ``[patch, cls (N, C)]`` -> ``(N, num_classes)``.

    Example:
        >>> import torch
        >>> head = VisionTransformerClsHead(num_classes=5, in_channels=8)
        >>> head(([torch.randn(2, 8, 1, 1), torch.randn(2, 8)],)).shape
        torch.Size([2, 5])
    """

    def __init__(self, num_classes: int, in_channels: int, hidden_dim: int | None = None,
                 act_cfg: Mapping[str, Any] = {'type': 'Tanh'},
                 loss: Mapping[str, Any] | nn.Module = {'type': 'CrossEntropyLoss', 'loss_weight': 1.0},
                 topk: int | Sequence[int] = (1,), cal_acc: bool = False, init_cfg: Any = None) -> None:
        super().__init__(num_classes, in_channels, loss, topk, cal_acc, init_cfg)
        del self.fc  # mmcls names the linear layers.head
        self.hidden_dim = hidden_dim
        layers: list[tuple[str, nn.Module]] = []
        if hidden_dim is not None:
            layers += [('pre_logits', nn.Linear(in_channels, hidden_dim)),
                       ('act', build_activation_layer(act_cfg))]
        layers.append(('head', nn.Linear(hidden_dim or in_channels, num_classes)))
        self.layers = nn.Sequential(OrderedDict(layers))

    def init_weights(self) -> None:
        nn.init.zeros_(self.layers.head.weight)
        nn.init.zeros_(self.layers.head.bias)

    def _hidden(self, token: Tensor) -> Tensor:
        return token if self.hidden_dim is None else self.layers.act(self.layers.pre_logits(token))

    def pre_logits(self, feats: Any) -> Tensor:
        return self._hidden(feats[-1][1])

    def forward(self, feats: Any) -> Tensor:
        return self.layers.head(self.pre_logits(feats))


@MODELS.register_module(name=['DeiTClsHead', 'mmrazor.DeiTClsHead', 'mmcls.DeiTClsHead'])
class DeiTClsHead(VisionTransformerClsHead):
    """MMRazor's DeiT head: ``layers.head`` on the class token gives the scores (and the loss);
    ``layers.head_dist`` runs on the distillation token so a recorder on it feeds the
    distillation loss. Feature: ``[patch, cls (N, C), dist (N, C)]``.

    Example:
        >>> import torch
        >>> head = DeiTClsHead(num_classes=5, in_channels=8)
        >>> head(([torch.randn(2, 8, 1, 1), torch.randn(2, 8), torch.randn(2, 8)],)).shape
        torch.Size([2, 5])
    """

    def __init__(self, num_classes: int, in_channels: int, hidden_dim: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(num_classes, in_channels, hidden_dim, **kwargs)
        self.layers.add_module('head_dist', nn.Linear(hidden_dim or in_channels, num_classes))

    def forward(self, feats: Any) -> Tensor:
        _, cls_token, dist_token = feats[-1]
        self.layers.head_dist(self._hidden(dist_token))
        return self.layers.head(self._hidden(cls_token))
