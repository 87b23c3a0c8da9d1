"""MMRazor's ``DynamicLinearClsHead``: mmcls's linear head on an elastic input width."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from razor_ext.architectures.heads.linear_head import LinearClsHead
from razor_ext.supernet.dynamic_ops import DynamicLinear
from razor_ext.registry import MODELS


@MODELS.register_module(name=['DynamicLinearClsHead', 'mmrazor.DynamicLinearClsHead'])
class DynamicLinearClsHead(LinearClsHead):
    """:class:`LinearClsHead` whose ``fc`` is a :class:`DynamicLinear`: it takes the active
    width of the backbone's last features. :meth:`connect_with_backbone` registers the backbone's
    output mutable as ``fc.in_features`` (what ``SearchableImageClassifier``'s ``connect_head``
    calls), so a fixed subnet's head is sliced to the chosen width.

    Args: as :class:`LinearClsHead` (``dropout_rate`` accepted, MMRazor's argument, unused).

    Shapes: ``feats``: tuple of ``(N, c)`` with ``c <= in_channels`` -> ``(N, num_classes)``.

    Example:
        >>> import torch
        >>> from razor_ext.supernet.mutables import OneShotMutableChannel
        >>> head = DynamicLinearClsHead(num_classes=3, in_channels=8)
        >>> width = OneShotMutableChannel(8, [4, 8])
        >>> head.connect_with_backbone(width); width.current_choice = 4
        >>> head((torch.randn(2, 4),)).shape
        torch.Size([2, 3])
    """

    def __init__(self, num_classes: int, in_channels: int,
                 loss: Mapping[str, Any] | nn.Module = {'type': 'CrossEntropyLoss',
                                                        'loss_weight': 1.0},
                 topk: int | Sequence[int] = (1,), cal_acc: bool = False,
                 dropout_rate: float = 0.0, init_cfg: Any = None) -> None:
        super().__init__(num_classes, in_channels, loss, topk, cal_acc, init_cfg)
        self.dropout_rate = dropout_rate
        self.fc = DynamicLinear(in_channels, num_classes)

    def connect_with_backbone(self, backbone_output_mutable: Any) -> None:
        """Make ``fc``'s input width follow ``backbone_output_mutable``."""
        self.fc.register_mutable_attr('in_features', backbone_output_mutable)
