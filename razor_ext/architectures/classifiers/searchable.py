"""MMRazor's ``SearchableImageClassifier``: an mmcls ``ImageClassifier`` over a supernet
backbone, whose head follows the backbone's elastic output width and whose input resolution
can be searched too (BigNAS, OFA, Autoformer)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from razor_ext.architectures.classifiers.image import ImageClassifier
from razor_ext.supernet.dynamic_ops import DynamicInputResizer
from razor_ext.supernet.mutables import OneShotMutableValue
from razor_ext.registry import MODELS


def build_input_resizer(cfg: Mapping[str, Any]) -> DynamicInputResizer:
    """A resizer whose ``shape`` mutable (alias ``cfg.get('alias', 'input_shape')``) chooses
    among ``cfg['input_sizes']`` (a list of ``[h, w]``)."""
    sizes = cfg.get('input_sizes')
    if not isinstance(sizes, (list, tuple)) or not sizes or not all(
            isinstance(s, (list, tuple)) and len(s) == 2 for s in sizes):
        raise ValueError(f"input_resizer_cfg['input_sizes'] must be a list of [h, w], got "
                         f'{sizes!r}')
    resizer = DynamicInputResizer(interpolation_type=cfg.get('interpolation_type', 'bicubic'),
                                  align_corners=cfg.get('align_corners', False))
    shape = OneShotMutableValue([[int(h), int(w)] for h, w in sizes],
                                alias=cfg.get('alias', 'input_shape'))
    resizer.register_mutable_attr('shape', shape)
    return resizer


@MODELS.register_module(name=['SearchableImageClassifier', 'mmrazor.SearchableImageClassifier'])
class SearchableImageClassifier(ImageClassifier):
    """:class:`ImageClassifier` for supernets (MMRazor's class and arguments).

    Args:
        backbone, neck, head, pretrained, train_cfg, data_preprocessor, init_cfg: as
            :class:`ImageClassifier`.
        input_resizer_cfg: ``dict(input_sizes=[[h, w], ...])``: the input is resized to a
            searchable resolution (mutable alias ``input_shape``) before the backbone.
        connect_head: ``{head_method: 'component.attribute'}``, e.g.
            ``dict(connect_with_backbone='backbone.last_mutable_channels')``: calls
            ``head.connect_with_backbone(backbone.last_mutable_channels)`` so the head's input
            width follows the backbone's last width mutable.

    Shapes: ``(N, 3, H, W)`` -> logits ``(N, num_classes)``; the backbone sees the resized
    ``(N, 3, h, w)``.

    Example:
        >>> import torch
        >>> from razor_ext.supernet.mutables import OneShotMutableChannel
        >>> net = SearchableImageClassifier(
        ...     backbone=dict(type='mmcls.ResNet_CIFAR', depth=18),
        ...     neck=dict(type='GlobalAveragePooling'),
        ...     head=dict(type='DynamicLinearClsHead', num_classes=10, in_channels=512),
        ...     input_resizer_cfg=dict(input_sizes=[[16, 16], [32, 32]]))
        >>> net(torch.randn(2, 3, 24, 24)).shape, net.input_resizer.mutable_attrs['shape'].alias
        (torch.Size([2, 10]), 'input_shape')
    """

    def __init__(self, backbone: Mapping[str, Any] | nn.Module,
                 neck: Mapping[str, Any] | nn.Module | None = None,
                 head: Mapping[str, Any] | nn.Module | None = None,
                 pretrained: str | None = None, train_cfg: Mapping[str, Any] | None = None,
                 data_preprocessor: Mapping[str, Any] | nn.Module | None = None,
                 init_cfg: Any = None, input_resizer_cfg: Mapping[str, Any] | None = None,
                 connect_head: Mapping[str, str] | None = None) -> None:
        super().__init__(backbone, neck, head, pretrained, train_cfg, data_preprocessor,
                         init_cfg)
        if self.with_head and connect_head:
            for method, source in connect_head.items():
                component, _, attr = str(source).partition('.')
                value = getattr(getattr(self, component, None), attr, None)
                if value is None or not callable(getattr(self.head, method, None)):
                    raise ValueError(f'connect_head: {type(self.head).__name__}.{method} or '
                                     f'{source!r} does not exist')
                getattr(self.head, method)(value)
        self.input_resizer = None if input_resizer_cfg is None \
            else build_input_resizer(input_resizer_cfg)

    def extract_feat(self, inputs: Tensor, input_resizer: bool = True) -> Any:
        """Resize (when an input resizer is set and ``input_resizer``), then backbone and neck."""
        if self.input_resizer is not None and input_resizer:
            inputs = self.input_resizer(inputs)
        return super().extract_feat(inputs)
