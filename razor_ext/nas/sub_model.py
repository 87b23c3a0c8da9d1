"""``sub_model``: MMRazor's config entry that builds a supernet and fixes it to a searched subnet."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from torch import nn

from razor_ext.registry import MODELS


@MODELS.register_module(name='sub_model')
def sub_model(cfg: Mapping[str, Any], fix_subnet: Mapping[str, Any] | str | os.PathLike[str],
              **kwargs: Any) -> nn.Module:
    """Build ``cfg`` (a supernet config) and fix it to ``fix_subnet`` (dict or YAML/JSON file): the
    static subnet, made of plain torch modules. MMRazor's other keys (``prefix``,
    ``init_weight_from_supernet``...) are accepted. ``mode='mutator'`` (a channel-mutator
    ``fix_subnet``: DMCP's and DCFF's subnets) is handed to ``mutator_sub_model`` by its
    registry name (it belongs to ``razor_ext.pruning``, which ``nas`` does not import).

    Example:
        >>> model = MODELS.build(dict(type='sub_model', cfg=dict(type='SearchableMnistNet', width=4, depth=1),
        ...                           fix_subnet={f'features.{i}': {'chosen': 'skip'} for i in (1, 4, 6)}))
        >>> type(model.features[1]).__name__
        'Identity'
    """
    from razor_ext.supernet.fix_subnet import load_fix_subnet

    mode = kwargs.pop('mode', 'mutable')
    if mode == 'mutator':
        if MODELS.get('mutator_sub_model') is None:
            raise NotImplementedError("sub_model(mode='mutator') needs razor_ext.pruning's "
                                      'mutator_sub_model, which is not registered')
        return MODELS.build(dict(type='mutator_sub_model', cfg=cfg, fix_subnet=fix_subnet,
                                 mode=mode, **kwargs))
    if mode != 'mutable':
        raise ValueError(f"sub_model: mode={mode!r} is not supported; 'mutable' (NAS subnets) "
                         f"or 'mutator' (channel-mutator subnets)")
    model = MODELS.build(dict(cfg))
    # MMRazor's subnet files may name derived values too: skipped (with a warning), as there
    return load_fix_subnet(model, fix_subnet, strict=False)
