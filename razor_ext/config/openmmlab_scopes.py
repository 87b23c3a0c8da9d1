"""The OpenMMLab config scopes razor_ext knows: ``mmcls::`` (the mmcls base and model configs that
razor_ext ships, written from mmcls's published hyper-parameters) and ``mmrazor::`` (MMRazor's own
``configs/`` folder, found through the ``MMRAZOR_ROOT`` environment variable: a checkout of MMRazor).
Detection, segmentation, pose and 3D packages are out of scope, and say so in one line.

Example:
    >>> register_openmmlab_scopes()
    >>> (registered_scopes()['mmcls'] / 'resnet' / 'resnet18_8xb32_in1k.py').is_file()
    True
    >>> check_supported_scope('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py')
    Traceback (most recent call last):
    ...
    ValueError: 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py': mmdet's models (detection) are not part of razor_ext; only classification (mmcls) configs load
"""
from __future__ import annotations

import os
from pathlib import Path

from razor_ext.config.scopes import register_scope, registered_scopes, split_scope

# The data folder (no Python package) holding the mmcls configs; a path, not an import, so the
# config layer stays below the architectures that build what those configs name.
MMCLS_CONFIGS = Path(__file__).resolve().parents[1] / 'architectures' / 'mmcls_configs'
MMRAZOR_ROOT_ENV = 'MMRAZOR_ROOT'
_OUT_OF_SCOPE = {'mmdet': 'detection', 'mmseg': 'segmentation', 'mmpose': 'pose estimation',
                 'mmdet3d': '3D detection', 'mmyolo': 'detection', 'mmrotate': 'rotated detection',
                 'mmocr': 'OCR', 'mmaction': 'video', 'mmaction2': 'video', 'mmedit': 'editing',
                 'mmagic': 'editing', 'mmtrack': 'tracking'}

__all__ = ['MMCLS_CONFIGS', 'check_supported_scope', 'register_openmmlab_scopes']


def register_openmmlab_scopes() -> None:
    """Map ``mmcls`` (and ``mmpretrain``, its new name) to the shipped configs, and ``mmrazor`` to
    ``$MMRAZOR_ROOT/configs`` when that variable names a folder. A scope already mapped elsewhere
    (by the user) is left alone."""
    known = registered_scopes()
    for name in ('mmcls', 'mmpretrain'):
        if name not in known:
            register_scope(name, MMCLS_CONFIGS)
    root = os.environ.get(MMRAZOR_ROOT_ENV)
    if root and 'mmrazor' not in known and (Path(root) / 'configs').is_dir():
        register_scope('mmrazor', Path(root) / 'configs')


def check_supported_scope(path: str | os.PathLike[str]) -> None:
    """Raise a one-line ValueError for a config path in a package whose models razor_ext lacks."""
    scope, _ = split_scope(path)
    if scope in _OUT_OF_SCOPE:
        raise ValueError(f'{os.fspath(path)!r}: {scope}\'s models ({_OUT_OF_SCOPE[scope]}) are not '
                         f'part of razor_ext; only classification (mmcls) configs load')
    if scope == 'mmrazor' and 'mmrazor' not in registered_scopes():
        raise ValueError(f'{os.fspath(path)!r} names a file of MMRazor\'s own configs/: set '
                         f'{MMRAZOR_ROOT_ENV} to a checkout of MMRazor, or '
                         f'razor_ext.config.register_scope("mmrazor", "<mmrazor>/configs")')
