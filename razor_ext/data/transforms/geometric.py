"""mmcls's geometric transforms on a results dict whose ``img`` is an ``(H, W, C)`` uint8 array:
``RandomResizedCrop``, ``ResizeEdge``, ``Resize``, ``CenterCrop``, ``RandomCrop`` (with padding),
``RandomFlip``. Resizing uses Pillow (bilinear by default, as ``backend='pillow'`` in mmcls)."""
from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from razor_ext.registry import TRANSFORMS

_INTERP = {'nearest': Image.NEAREST, 'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC,
           'area': Image.BOX, 'lanczos': Image.LANCZOS}


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    """(h, w) from an int or an mmcls (w, h) pair."""
    if isinstance(value, int):
        return value, value
    if isinstance(value, Sequence) and len(value) == 2:
        return int(value[1]), int(value[0])
    raise TypeError(f'{name} must be an int or a (w, h) pair, got {value!r}')


def resize(img: np.ndarray, h: int, w: int, interpolation: str = 'bilinear') -> np.ndarray:
    """``img`` (H, W[, C]) uint8 resized to (h, w) with Pillow.

    Example:
        >>> resize(np.zeros((4, 6, 3), np.uint8), 2, 3).shape
        (2, 3, 3)
    """
    if interpolation not in _INTERP:
        raise ValueError(f'interpolation must be one of {sorted(_INTERP)}, got {interpolation!r}')
    squeeze = img.ndim == 3 and img.shape[2] == 1
    pil = Image.fromarray(img[..., 0] if squeeze else img)
    out = np.asarray(pil.resize((w, h), _INTERP[interpolation]))
    return out[..., None] if squeeze else out


@TRANSFORMS.register_module(name=['RandomResizedCrop', 'mmcls.RandomResizedCrop'])
class RandomResizedCrop:
    """A random crop covering ``crop_ratio_range`` of the area with aspect ratio in
    ``aspect_ratio_range``, resized to ``scale`` (Inception-style).

    Example:
        >>> out = RandomResizedCrop(scale=8)({'img': np.zeros((20, 30, 3), np.uint8)})
        >>> out['img'].shape
        (8, 8, 3)
    """

    def __init__(self, scale: int | Sequence[int], crop_ratio_range: Sequence[float] = (0.08, 1.0),
                 aspect_ratio_range: Sequence[float] = (3. / 4., 4. / 3.), max_attempts: int = 10,
                 interpolation: str = 'bilinear', backend: str = 'cv2') -> None:
        self.h, self.w = _pair(scale, 'scale')
        self.crop_ratio_range, self.aspect_ratio_range = tuple(crop_ratio_range), tuple(aspect_ratio_range)
        self.max_attempts, self.interpolation = max_attempts, interpolation

    def _box(self, height: int, width: int) -> tuple[int, int, int, int]:
        area = height * width
        log_ratio = (math.log(self.aspect_ratio_range[0]), math.log(self.aspect_ratio_range[1]))
        for _ in range(self.max_attempts):
            target = random.uniform(*self.crop_ratio_range) * area
            ratio = math.exp(random.uniform(*log_ratio))
            w, h = int(round(math.sqrt(target * ratio))), int(round(math.sqrt(target / ratio)))
            if 0 < w <= width and 0 < h <= height:
                return random.randint(0, height - h), random.randint(0, width - w), h, w
        # Fall back to a centre crop of the whole image clipped to the ratio range.
        ratio = width / height
        if ratio < min(self.aspect_ratio_range):
            w, h = width, int(round(width / min(self.aspect_ratio_range)))
        elif ratio > max(self.aspect_ratio_range):
            h, w = height, int(round(height * max(self.aspect_ratio_range)))
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        img = results['img']
        top, left, h, w = self._box(*img.shape[:2])
        results['img'] = resize(img[top:top + h, left:left + w], self.h, self.w, self.interpolation)
        results['img_shape'] = results['img'].shape[:2]
        return results


@TRANSFORMS.register_module(name=['ResizeEdge', 'mmcls.ResizeEdge'])
class ResizeEdge:
    """Resize so that the ``edge`` (``'short'``, ``'long'``, ``'width'``, ``'height'``) is ``scale``,
    keeping the aspect ratio.

    Example:
        >>> ResizeEdge(scale=8)({'img': np.zeros((16, 32, 3), np.uint8)})['img'].shape
        (8, 16, 3)
    """

    def __init__(self, scale: int, edge: str = 'short', backend: str = 'cv2',
                 interpolation: str = 'bilinear') -> None:
        if edge not in ('short', 'long', 'width', 'height'):
            raise ValueError(f"edge must be 'short', 'long', 'width' or 'height', got {edge!r}")
        self.scale, self.edge, self.interpolation = int(scale), edge, interpolation

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        img = results['img']
        h, w = img.shape[:2]
        edge = {'short': min(h, w), 'long': max(h, w), 'width': w, 'height': h}[self.edge]
        factor = self.scale / edge
        results['img'] = resize(img, max(1, int(h * factor + 0.5)), max(1, int(w * factor + 0.5)),
                                self.interpolation)
        results['img_shape'] = results['img'].shape[:2]
        return results


@TRANSFORMS.register_module(name=['Resize', 'mmcls.Resize'])
class Resize:
    """Resize to ``scale`` (an int: square; or mmcls's (w, h)).

    Example:
        >>> Resize(scale=(6, 4))({'img': np.zeros((16, 32, 3), np.uint8)})['img'].shape
        (4, 6, 3)
    """

    def __init__(self, scale: int | Sequence[int], keep_ratio: bool = False,
                 interpolation: str = 'bilinear', backend: str = 'cv2') -> None:
        if keep_ratio:
            raise ValueError('Resize(keep_ratio=True) is not supported; use ResizeEdge')
        self.h, self.w = _pair(scale, 'scale')
        self.interpolation = interpolation

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        results['img'] = resize(results['img'], self.h, self.w, self.interpolation)
        results['img_shape'] = results['img'].shape[:2]
        return results


@TRANSFORMS.register_module(name=['CenterCrop', 'mmcls.CenterCrop'])
class CenterCrop:
    """The central ``crop_size`` window (images smaller than it are zero-padded first).

    Example:
        >>> int(CenterCrop(crop_size=4)({'img': np.arange(36, dtype=np.uint8).reshape(6, 6, 1)})['img'][0, 0, 0])
        7
    """

    def __init__(self, crop_size: int | Sequence[int], auto_pad: bool = False) -> None:
        self.h, self.w = _pair(crop_size, 'crop_size')

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        img = _pad_to(results['img'], self.h, self.w)
        top, left = (img.shape[0] - self.h) // 2, (img.shape[1] - self.w) // 2
        results['img'] = img[top:top + self.h, left:left + self.w]
        results['img_shape'] = results['img'].shape[:2]
        return results


def _pad_to(img: np.ndarray, h: int, w: int, value: int = 0) -> np.ndarray:
    ph, pw = max(0, h - img.shape[0]), max(0, w - img.shape[1])
    if not ph and not pw:
        return img
    pads = ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)) + ((0, 0),) * (img.ndim - 2)
    return np.pad(img, pads, constant_values=value)


@TRANSFORMS.register_module(name=['RandomCrop', 'mmcls.RandomCrop'])
class RandomCrop:
    """A random ``crop_size`` window after padding ``padding`` pixels on each side (CIFAR's
    4-pixel padded 32x32 crops); ``pad_if_needed`` pads images smaller than the crop.

    Example:
        >>> RandomCrop(crop_size=32, padding=4)({'img': np.zeros((32, 32, 3), np.uint8)})['img'].shape
        (32, 32, 3)
    """

    def __init__(self, crop_size: int | Sequence[int], padding: int | Sequence[int] | None = None,
                 pad_if_needed: bool = False, pad_val: int = 0, padding_mode: str = 'constant') -> None:
        self.h, self.w = _pair(crop_size, 'crop_size')
        if padding_mode not in ('constant', 'edge', 'reflect', 'symmetric'):
            raise ValueError(f'padding_mode {padding_mode!r} is not supported')
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.pad_val, self.padding_mode = pad_val, padding_mode

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        img = results['img']
        if self.padding is not None:
            p = self.padding
            left, top, right, bottom = ((p,) * 4 if isinstance(p, int) else
                                        (p[0], p[1], p[0], p[1]) if len(p) == 2 else tuple(p))
            pads = ((top, bottom), (left, right)) + ((0, 0),) * (img.ndim - 2)
            kw = {'constant_values': self.pad_val} if self.padding_mode == 'constant' else {}
            img = np.pad(img, pads, mode=self.padding_mode, **kw)
        if self.pad_if_needed:
            img = _pad_to(img, self.h, self.w, self.pad_val)
        if img.shape[0] < self.h or img.shape[1] < self.w:
            raise ValueError(f'RandomCrop: image {img.shape[:2]} is smaller than crop_size '
                             f'{(self.h, self.w)} (set pad_if_needed=True)')
        top = random.randint(0, img.shape[0] - self.h)
        left = random.randint(0, img.shape[1] - self.w)
        results['img'] = img[top:top + self.h, left:left + self.w]
        results['img_shape'] = results['img'].shape[:2]
        return results


@TRANSFORMS.register_module(name=['RandomFlip', 'mmcls.RandomFlip'])
class RandomFlip:
    """Flip with probability ``prob`` along ``direction`` (``'horizontal'``, ``'vertical'``).

    Example:
        >>> RandomFlip(prob=1.0)({'img': np.array([[[1], [2]]], np.uint8)})['img'][0, :, 0].tolist()
        [2, 1]
    """

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal') -> None:
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f"direction must be 'horizontal' or 'vertical', got {direction!r}")
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob, self.direction = prob, direction

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        if random.random() < self.prob:
            axis = 1 if self.direction == 'horizontal' else 0
            results['img'] = np.ascontiguousarray(np.flip(results['img'], axis=axis))
            results['flip'], results['flip_direction'] = True, self.direction
        return results
