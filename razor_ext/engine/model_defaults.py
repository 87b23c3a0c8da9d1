"""What MMEngine's runner adds to a config's model before building it: the top-level
``data_preprocessor`` (mmcls's base configs keep it there) when the model dict has none."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def model_with_defaults(cfg: Mapping[str, Any]) -> Any:
    """``cfg['model']`` with ``data_preprocessor`` filled from the config's top level (typed
    ``mmcls.ClsDataPreprocessor`` when it names no type, as mmcls's configs mean it).

    Example:
        >>> model_with_defaults({'model': {'type': 'X'}, 'data_preprocessor': {'mean': [0.0]}})
        {'type': 'X', 'data_preprocessor': {'type': 'mmcls.ClsDataPreprocessor', 'mean': [0.0]}}
    """
    model = cfg['model']
    top = cfg.get('data_preprocessor')
    if not isinstance(model, Mapping) or not isinstance(top, Mapping) or model.get('data_preprocessor'):
        return model
    return {**dict(model), 'data_preprocessor': {'type': 'mmcls.ClsDataPreprocessor', **dict(top)}}
