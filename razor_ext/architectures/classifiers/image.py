"""mmcls's ``ImageClassifier``: backbone -> neck -> head, with MMEngine's ``mode`` contract so
that :class:`~razor_ext.algorithm.BaseAlgorithm` drives it."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.algorithm.data_preprocessor import ImgDataPreprocessor
from razor_ext.algorithm.data_preprocessor import to_data_dict
from razor_ext.architectures.classifiers.batch_augments import build_batch_augment
from razor_ext.architectures.heads.linear_head import labels_of
from razor_ext.registry import MODELS


@MODELS.register_module(name=['ClsDataPreprocessor', 'mmcls.ClsDataPreprocessor'])
class ClsDataPreprocessor(ImgDataPreprocessor):
    """mmcls's preprocessor config (``mean``, ``std``, ``to_rgb``): normalise, and reverse the
    channel order first when ``to_rgb`` (BGR-loaded images to RGB). ``batch_augments``
    (``dict(augments=[dict(type='Mixup', alpha=0.2), ...], probs=[...])``, needs
    ``num_classes``) mixes each training batch and gives every sample a soft ``gt_score``.

    Example:
        >>> pre = ClsDataPreprocessor(mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0], to_rgb=True)
        >>> pre({'inputs': torch.tensor([[[[1.0]], [[2.0]], [[3.0]]]])})['inputs'].flatten().tolist()
        [3.0, 2.0, 1.0]
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 to_rgb: bool = False, non_blocking: bool = False, **kwargs: Any) -> None:
        super().__init__(mean, std, non_blocking)
        self.to_rgb = bool(to_rgb or kwargs.pop('bgr_to_rgb', False) or kwargs.pop('rgb_to_bgr', False))
        self.num_classes = kwargs.pop('num_classes', None)
        self.batch_augment = build_batch_augment(kwargs.pop('batch_augments', None))
        if self.batch_augment is not None and not isinstance(self.num_classes, int):
            raise ValueError('ClsDataPreprocessor: batch_augments needs num_classes')
        if kwargs:
            raise TypeError(f'ClsDataPreprocessor got unsupported arguments {sorted(kwargs)}')

    def forward(self, data: Any, training: bool = False,
                device: torch.device | str | None = None) -> dict[str, Any]:
        data = to_data_dict(data)
        inputs = data['inputs']
        if self.to_rgb and isinstance(inputs, Tensor) and inputs.ndim >= 2 and inputs.shape[1] == 3:
            data = {**data, 'inputs': inputs.flip(1)}
        elif self.to_rgb and isinstance(inputs, (list, tuple)):
            data = {**data, 'inputs': [t.flip(0) if t.shape[0] == 3 else t for t in inputs]}
        out = super().forward(data, training, device)
        if training and self.batch_augment is not None and out.get('data_samples') is not None:
            out = self._augment(out)
        return out

    def _augment(self, data: dict[str, Any]) -> dict[str, Any]:
        inputs, samples = data['inputs'], data['data_samples']
        labels = labels_of(samples, inputs.device)
        scores = torch.nn.functional.one_hot(labels.long(), self.num_classes).to(inputs.dtype)
        inputs, scores = self.batch_augment(inputs, scores)
        if isinstance(samples, Tensor):
            return {**data, 'inputs': inputs, 'data_samples': scores}
        mixed = []
        for sample, score in zip(samples, scores):
            if isinstance(sample, Mapping):
                mixed.append({**sample, 'gt_score': score})
            else:
                sample.gt_score = score
                mixed.append(sample)
        return {**data, 'inputs': inputs, 'data_samples': mixed}


def _build(cfg: Mapping[str, Any] | nn.Module | None, what: str) -> nn.Module | None:
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    if not isinstance(cfg, Mapping):
        raise TypeError(f'{what} must be a config dict, an nn.Module or None, got '
                        f'{type(cfg).__name__}')
    return MODELS.build(cfg)


@MODELS.register_module(name=['ImageClassifier', 'mmcls.ImageClassifier'])
class ImageClassifier(nn.Module):
    """``backbone`` -> ``neck`` -> ``head`` (mmcls's module names, so checkpoint keys and subnet
    paths such as ``backbone.layers.0.0`` line up).

    ``forward(inputs, data_samples=None, mode='tensor')``: ``'tensor'`` gives the head's logits
    (or the features when there is no head), ``'loss'`` the head's loss dict, ``'predict'`` the
    predicted class indices ``(N,)``. ``data_samples``: a label tensor ``(N,)`` or a list of
    samples with ``gt_label``.

    Args:
        backbone, neck, head: config dicts or modules (neck and head optional).
        data_preprocessor: mmcls's preprocessor config (``mean``, ``std``, ``to_rgb``; type
            ``ClsDataPreprocessor`` unless given); kept as ``self.data_preprocessor`` for the
            algorithm or loop to apply, as in MMEngine (``forward`` takes preprocessed inputs).
        pretrained, train_cfg, init_cfg: accepted for config compatibility.

    Shapes: ``inputs`` ``(N, 3, H, W)`` -> logits ``(N, num_classes)``.

    Example:
        >>> model = ImageClassifier(
        ...     backbone=dict(type='MobileNetV2', widen_factor=0.5),
        ...     neck=dict(type='GlobalAveragePooling'),
        ...     head=dict(type='LinearClsHead', num_classes=10, in_channels=1280))
        >>> x, y = torch.randn(2, 3, 32, 32), torch.tensor([1, 2])
        >>> model(x).shape, sorted(model(x, y, mode='loss')), model(x, mode='predict').shape
        (torch.Size([2, 10]), ['loss'], torch.Size([2]))
    """

    def __init__(self, backbone: Mapping[str, Any] | nn.Module,
                 neck: Mapping[str, Any] | nn.Module | None = None,
                 head: Mapping[str, Any] | nn.Module | None = None,
                 pretrained: str | None = None, train_cfg: Mapping[str, Any] | None = None,
                 data_preprocessor: Mapping[str, Any] | nn.Module | None = None,
                 init_cfg: Any = None) -> None:
        super().__init__()
        if train_cfg and train_cfg.get('augments'):
            raise ValueError('ImageClassifier: train_cfg batch augments (Mixup, CutMix) are not '
                             'supported here')
        if data_preprocessor is None:
            data_preprocessor = {}  # mmcls: a ClsDataPreprocessor always (uint8 -> float)
        if isinstance(data_preprocessor, Mapping):
            data_preprocessor = {'type': 'ClsDataPreprocessor', **dict(data_preprocessor)}
        self.data_preprocessor = _build(data_preprocessor, 'data_preprocessor')
        self.backbone = _build(backbone, 'backbone')
        self.neck = _build(neck, 'neck')
        self.head = _build(head, 'head')
        self.pretrained, self.init_cfg = pretrained, init_cfg

    @property
    def with_neck(self) -> bool:
        return self.neck is not None

    @property
    def with_head(self) -> bool:
        return self.head is not None

    def init_weights(self) -> None:
        for part in (self.backbone, self.neck, self.head):
            init = getattr(part, 'init_weights', None)
            if callable(init):
                init()

    def extract_feat(self, inputs: Tensor) -> Any:
        """Backbone (and neck) features: a tuple of tensors for OpenMMLab backbones."""
        x = self.backbone(inputs)
        return self.neck(x) if self.with_neck else x

    def forward(self, inputs: Tensor, data_samples: Any = None, mode: str = 'tensor') -> Any:
        feats = self.extract_feat(inputs)
        if mode == 'tensor':
            return self.head(feats) if self.with_head else feats
        if not self.with_head:
            raise RuntimeError(f'ImageClassifier without a head supports only tensor mode, '
                               f'got mode={mode!r}')
        if mode == 'loss':
            if data_samples is None:
                raise ValueError('loss mode needs data_samples (labels)')
            return self.head.loss(feats, data_samples)
        if mode == 'predict':
            return self.head.predict(feats, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode')
