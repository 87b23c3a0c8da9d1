"""mmcls's AutoAugment / RandAugment operations on a results dict whose ``img`` is ``(H, W, C)``
uint8: ``Invert``, ``AutoContrast``, ``Equalize``, ``Solarize``, ``SolarizeAdd``, ``Posterize``,
``Contrast``, ``Brightness``, ``ColorTransform``, ``Sharpness``, ``Rotate``, ``Translate``, ``Shear``.

Each applies with probability ``prob``. Its strength is ``magnitude`` (``angle`` for Rotate,
``thr`` for Solarize, ``bits`` for Posterize), negated with probability ``random_negative_prob``
for signed operations; RandAugment sets it from ``magnitude_range`` and a level.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from razor_ext.registry import TRANSFORMS


class _AugOp:
    """The shared part: probability, magnitude (from the argument or RandAugment), sign."""

    magnitude_key = 'magnitude'
    signed = False

    def __init__(self, prob: float = 0.5, random_negative_prob: float = 0.5,
                 magnitude_range: Sequence[float] | None = None, pad_val: Any = 128,
                 interpolation: str = 'nearest', direction: str = 'horizontal', **kwargs: Any) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'{type(self).__name__}: prob must be in [0, 1], got {prob}')
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f'{type(self).__name__}: direction must be horizontal or vertical')
        self.magnitude = kwargs.pop(self.magnitude_key, None)
        kwargs.pop('center', None), kwargs.pop('scale', None), kwargs.pop('thr', None)
        if kwargs:
            raise TypeError(f'{type(self).__name__} got unexpected arguments {sorted(kwargs)}')
        self.prob, self.random_negative_prob = prob, random_negative_prob
        self.magnitude_range = tuple(magnitude_range) if magnitude_range is not None else None
        self.pad_val = tuple(pad_val) if isinstance(pad_val, Sequence) else pad_val
        self.interpolation = Image.NEAREST if interpolation == 'nearest' else Image.BILINEAR
        self.direction = direction

    def _value(self) -> float:
        value = self.magnitude
        if value is None:
            value = self.magnitude_range[1] if self.magnitude_range else 0.0
        if self.signed and random.random() < self.random_negative_prob:
            value = -value
        return value

    def apply(self, img: Image.Image, value: float) -> Image.Image:
        raise NotImplementedError

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        if random.random() >= self.prob:
            return results
        img = results['img']
        grey = img.ndim == 3 and img.shape[-1] == 1
        out = np.asarray(self.apply(Image.fromarray(img[..., 0] if grey else img), self._value()))
        results['img'] = np.ascontiguousarray(out[..., None] if grey else out)
        return results

    def _fill(self, img: Image.Image) -> Any:
        return self.pad_val if img.mode == 'L' or not isinstance(self.pad_val, int) else (self.pad_val,) * 3


def _register(name: str, apply: Any, signed: bool = False, key: str = 'magnitude') -> type:
    cls = type(name, (_AugOp,), {'apply': apply, 'signed': signed, 'magnitude_key': key,
                                 '__doc__': f"mmcls's ``{name}`` augmentation."})
    TRANSFORMS.register_module(name=[name, f'mmcls.{name}'], module=cls)
    return cls


Invert = _register('Invert', lambda self, img, v: ImageOps.invert(img))
AutoContrast = _register('AutoContrast', lambda self, img, v: ImageOps.autocontrast(img))
Equalize = _register('Equalize', lambda self, img, v: ImageOps.equalize(img))
Solarize = _register('Solarize', lambda self, img, v: ImageOps.solarize(img, int(v)), key='thr')
Posterize = _register('Posterize', lambda self, img, v: ImageOps.posterize(img, max(1, int(v))),
                      key='bits')
SolarizeAdd = _register('SolarizeAdd', lambda self, img, v: Image.fromarray(np.where(
    np.asarray(img) < 128, np.clip(np.asarray(img).astype(int) + int(v), 0, 255),
    np.asarray(img)).astype(np.uint8)))
Contrast = _register('Contrast', lambda self, img, v: ImageEnhance.Contrast(img).enhance(1 + v), True)
Brightness = _register('Brightness', lambda self, img, v: ImageEnhance.Brightness(img).enhance(1 + v), True)
ColorTransform = _register('ColorTransform', lambda self, img, v: ImageEnhance.Color(img).enhance(1 + v), True)
Sharpness = _register('Sharpness', lambda self, img, v: ImageEnhance.Sharpness(img).enhance(1 + v), True)
Rotate = _register('Rotate', lambda self, img, v: img.rotate(
    v, self.interpolation, fillcolor=self._fill(img)), True, key='angle')


def _translate(self: _AugOp, img: Image.Image, v: float) -> Image.Image:
    dx, dy = (v * img.width, 0) if self.direction == 'horizontal' else (0, v * img.height)
    return img.transform(img.size, Image.AFFINE, (1, 0, dx, 0, 1, dy), self.interpolation,
                         fillcolor=self._fill(img))


def _shear(self: _AugOp, img: Image.Image, v: float) -> Image.Image:
    matrix = (1, v, 0, 0, 1, 0) if self.direction == 'horizontal' else (1, 0, 0, v, 1, 0)
    return img.transform(img.size, Image.AFFINE, matrix, self.interpolation, fillcolor=self._fill(img))


Translate = _register('Translate', _translate, True)
Shear = _register('Shear', _shear, True)
AUG_OPS = ['AutoContrast', 'Brightness', 'ColorTransform', 'Contrast', 'Equalize', 'Invert',
           'Posterize', 'Rotate', 'Sharpness', 'Shear', 'Solarize', 'SolarizeAdd', 'Translate']
