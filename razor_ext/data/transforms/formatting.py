"""Loading and packing: ``LoadImageFromFile`` (an ``(H, W, 3)`` uint8 BGR array, as mmcv reads)
and ``PackClsInputs`` (``{'inputs': (C, H, W) uint8 tensor, 'data_samples': {'gt_label': ...}}``)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from razor_ext.registry import TRANSFORMS


@TRANSFORMS.register_module(name=['LoadImageFromFile', 'mmcls.LoadImageFromFile'])
class LoadImageFromFile:
    """Read ``results['img_path']`` with Pillow into ``results['img']``: ``(H, W, 3)`` uint8 in
    BGR order (``color_type='color'``, mmcv's default, which the ImageNet configs' ``to_rgb=True``
    undoes) or ``(H, W, 1)`` for ``'grayscale'``.

    Raises:
        FileNotFoundError / ValueError: the file is missing or not an image; the path is named.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), 'a.png')
        >>> Image.new('RGB', (3, 2), (255, 0, 0)).save(path)
        >>> LoadImageFromFile()({'img_path': path})['img'][0, 0].tolist()
        [0, 0, 255]
    """

    def __init__(self, to_float32: bool = False, color_type: str = 'color',
                 channel_order: str = 'bgr', imdecode_backend: str = 'cv2',
                 ignore_empty: bool = False, file_client_args: Any = None, backend_args: Any = None) -> None:
        if color_type not in ('color', 'grayscale', 'unchanged'):
            raise ValueError(f"color_type must be 'color', 'grayscale' or 'unchanged', got {color_type!r}")
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
        self.to_float32, self.color_type, self.channel_order = to_float32, color_type, channel_order
        self.ignore_empty = ignore_empty

    def __call__(self, results: dict[str, Any]) -> dict[str, Any] | None:
        path = results['img_path']
        try:
            with Image.open(path) as pil:
                pil = pil.convert('L' if self.color_type == 'grayscale' else 'RGB')
                img = np.asarray(pil)
        except FileNotFoundError:
            if self.ignore_empty:
                return None
            raise FileNotFoundError(f'LoadImageFromFile: no image file {path}') from None
        except OSError as err:
            raise ValueError(f'LoadImageFromFile: cannot read {path} as an image ({err})') from err
        img = img[..., None] if img.ndim == 2 else img
        if img.shape[-1] == 3 and self.channel_order == 'bgr':
            img = img[..., ::-1]
        img = np.ascontiguousarray(img)
        results['img'] = img.astype(np.float32) if self.to_float32 else img
        results['img_shape'] = results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module(name=['PackClsInputs', 'mmcls.PackClsInputs', 'PackInputs',
                                  'mmpretrain.PackInputs'])
class PackClsInputs:
    """``{'inputs': (C, H, W) tensor, 'data_samples': {'gt_label': int64 tensor (1,), ...meta}}``.

    Example:
        >>> out = PackClsInputs()({'img': np.zeros((4, 5, 3), np.uint8), 'gt_label': 2})
        >>> out['inputs'].shape, out['data_samples']['gt_label'].tolist()
        (torch.Size([3, 4, 5]), [2])
    """

    def __init__(self, meta_keys: Any = ('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                                         'scale_factor', 'flip', 'flip_direction')) -> None:
        self.meta_keys = tuple(meta_keys)

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        if 'img' not in results:
            raise KeyError('PackClsInputs: no img in the results (is LoadImageFromFile missing '
                           'from the pipeline?)')
        img = np.ascontiguousarray(results['img'].transpose(2, 0, 1))
        sample: dict[str, Any] = {k: results[k] for k in self.meta_keys
                                  if k in results and k != 'img_path'}
        if 'gt_label' in results:
            sample['gt_label'] = torch.as_tensor(results['gt_label'], dtype=torch.int64).reshape(-1)
        return {'inputs': torch.from_numpy(img), 'data_samples': sample}
