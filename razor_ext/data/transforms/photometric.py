"""mmcls's photometric and erasing transforms on ``(H, W, C)`` uint8 images: ``ColorJitter``,
``RandomErasing``, ``Cutout``."""
from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance

from razor_ext.registry import TRANSFORMS


def _range(value: float | Sequence[float], center: float, name: str, low: float = 0.0) -> tuple[float, float] | None:
    if isinstance(value, Sequence):
        lo, hi = float(value[0]), float(value[1])
    else:
        if value < 0:
            raise ValueError(f'ColorJitter: {name} must be non-negative, got {value}')
        lo, hi = max(low, center - value), center + value
    return None if lo == hi == center else (lo, hi)


@TRANSFORMS.register_module(name=['ColorJitter', 'mmcls.ColorJitter'])
class ColorJitter:
    """Random brightness, contrast, saturation (factors around 1) and hue (shift in [-0.5, 0.5]),
    applied in a random order.

    Example:
        >>> out = ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)(
        ...     {'img': np.full((4, 4, 3), 100, np.uint8)})
        >>> out['img'].shape, out['img'].dtype
        ((4, 4, 3), dtype('uint8'))
    """

    def __init__(self, brightness: float | Sequence[float] = 0.0, contrast: float | Sequence[float] = 0.0,
                 saturation: float | Sequence[float] = 0.0, hue: float | Sequence[float] = 0.0,
                 backend: str = 'pillow') -> None:
        self.brightness = _range(brightness, 1.0, 'brightness')
        self.contrast = _range(contrast, 1.0, 'contrast')
        self.saturation = _range(saturation, 1.0, 'saturation')
        self.hue = _range(hue, 0.0, 'hue', low=-0.5)
        if self.hue is not None and not -0.5 <= self.hue[0] <= self.hue[1] <= 0.5:
            raise ValueError(f'ColorJitter: hue must lie in [-0.5, 0.5], got {hue}')

    @staticmethod
    def _shift_hue(img: Image.Image, shift: float) -> Image.Image:
        h, s, v = img.convert('HSV').split()
        h = h.point(lambda x: (x + int(shift * 255)) % 256)
        return Image.merge('HSV', (h, s, v)).convert('RGB')

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        img = results['img']
        grey = img.ndim == 3 and img.shape[-1] == 1
        pil = Image.fromarray(img[..., 0] if grey else img)
        steps = [(self.brightness, ImageEnhance.Brightness), (self.contrast, ImageEnhance.Contrast),
                 (self.saturation, None if grey else ImageEnhance.Color), (self.hue, 'hue')]
        random.shuffle(steps)
        for bounds, op in steps:
            if bounds is None or op is None or (op == 'hue' and grey):
                continue
            factor = random.uniform(*bounds)
            pil = self._shift_hue(pil, factor) if op == 'hue' else op(pil).enhance(factor)
        out = np.asarray(pil)
        results['img'] = np.ascontiguousarray(out[..., None] if grey else out)
        return results


@TRANSFORMS.register_module(name=['RandomErasing', 'mmcls.RandomErasing'])
class RandomErasing:
    """With probability ``erase_prob`` fill a random box covering ``min_area_ratio`` to
    ``max_area_ratio`` of the image (aspect ratio in ``aspect_range``) with ``fill_color``
    (``mode='const'``) or per-pixel noise (``mode='rand'``, N(fill_color, fill_std) clipped).

    Example:
        >>> out = RandomErasing(erase_prob=1.0, min_area_ratio=0.25, max_area_ratio=0.25,
        ...                     aspect_range=(1.0, 1.0), fill_color=(7, 7, 7))(
        ...     {'img': np.zeros((8, 8, 3), np.uint8)})
        >>> int((out['img'] == 7).all(-1).sum())
        16
    """

    def __init__(self, erase_prob: float = 0.5, min_area_ratio: float = 0.02,
                 max_area_ratio: float = 0.4, aspect_range: float | Sequence[float] = (3 / 10, 10 / 3),
                 mode: str = 'const', fill_color: Sequence[float] | float = (128, 128, 128),
                 fill_std: Sequence[float] | float | None = None) -> None:
        if not 0.0 <= erase_prob <= 1.0:
            raise ValueError(f'erase_prob must be in [0, 1], got {erase_prob}')
        if not 0.0 <= min_area_ratio <= max_area_ratio <= 1.0:
            raise ValueError('need 0 <= min_area_ratio <= max_area_ratio <= 1')
        if mode not in ('const', 'rand'):
            raise ValueError(f"mode must be 'const' or 'rand', got {mode!r}")
        if isinstance(aspect_range, (int, float)):
            aspect_range = (min(aspect_range, 1 / aspect_range), max(aspect_range, 1 / aspect_range))
        self.erase_prob, self.min_area_ratio, self.max_area_ratio = erase_prob, min_area_ratio, max_area_ratio
        self.log_aspect = (math.log(aspect_range[0]), math.log(aspect_range[1]))
        self.mode, self.fill_color, self.fill_std = mode, fill_color, fill_std

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        if random.random() >= self.erase_prob:
            return results
        img = results['img'].copy()
        h, w = img.shape[:2]
        area = h * w * random.uniform(self.min_area_ratio, self.max_area_ratio)
        aspect = math.exp(random.uniform(*self.log_aspect))
        eh, ew = min(h, int(round(math.sqrt(area * aspect)))), min(w, int(round(math.sqrt(area / aspect))))
        top, left = random.randint(0, h - eh), random.randint(0, w - ew)
        fill = np.broadcast_to(np.asarray(self.fill_color, np.float32), (eh, ew, img.shape[2]))
        if self.mode == 'rand':
            std = 1.0 if self.fill_std is None else np.asarray(self.fill_std, np.float32)
            fill = fill + np.random.normal(size=fill.shape).astype(np.float32) * std
        img[top:top + eh, left:left + ew] = np.clip(fill, 0, 255).astype(img.dtype)
        results['img'] = img
        return results


@TRANSFORMS.register_module(name=['Cutout', 'mmcls.Cutout'])
class Cutout:
    """With probability ``prob`` fill a ``shape`` box (an int: square; or (w, h)) at a random
    centre with ``pad_val``; the box is clipped at the borders.

    Example:
        >>> out = Cutout(shape=2, prob=1.0, pad_val=9)({'img': np.zeros((6, 6, 3), np.uint8)})
        >>> 1 <= int((out['img'] == 9).all(-1).sum()) <= 4
        True
    """

    def __init__(self, shape: int | Sequence[int], pad_val: int | Sequence[int] = 128,
                 prob: float = 0.5) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.ch, self.cw = (shape, shape) if isinstance(shape, int) else (int(shape[1]), int(shape[0]))
        self.pad_val, self.prob = pad_val, prob

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        if random.random() >= self.prob:
            return results
        img = results['img'].copy()
        h, w = img.shape[:2]
        cy, cx = random.randint(0, h - 1), random.randint(0, w - 1)
        y0, x0 = max(0, cy - self.ch // 2), max(0, cx - self.cw // 2)
        img[y0:min(h, y0 + self.ch), x0:min(w, x0 + self.cw)] = self.pad_val
        results['img'] = img
        return results
