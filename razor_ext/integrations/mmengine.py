"""Optional MMEngine bridge: razor_ext's algorithms, mutators, mutables, distillers, losses,
observers and quantizers in MMEngine's ``MODELS`` registry, so an MMEngine runner config can
name them (``model=dict(type='SPOS', ...)``) and drive them with its own ``OptimWrapper``
(``BaseAlgorithm.train_step`` accepts one).

Loops are not bridged: razor_ext's loops drive razor_ext's ``Runner`` (sharded loaders,
rank-0 hooks); under MMEngine use MMEngine's loops, which call the same ``train_step`` /
``val_step``.
"""
from __future__ import annotations

from typing import Any

from razor_ext.registry import MODELS


def register_into_mmengine(registry: Any = None) -> dict[str, list[str]]:
    """Register every ``razor_ext`` ``MODELS`` entry into MMEngine's ``MODELS`` (or ``registry``).

    Names MMEngine already holds (e.g. ``BaseDataPreprocessor``) are left to MMEngine and
    reported; calling it twice registers nothing new.

    Returns:
        ``{'registered': [...], 'skipped': [...]}``.

    Example:
        >>> from mmengine.registry import MODELS as MM_MODELS  # doctest: +SKIP
        >>> _ = register_into_mmengine()                       # doctest: +SKIP
        >>> MM_MODELS.get('SPOS').__module__                    # doctest: +SKIP
        'razor_ext.nas.algorithms.spos'
    """
    try:
        import mmengine.model  # noqa: F401 - registers MMEngine's own models first (they win)
        from mmengine.registry import MODELS as MM_MODELS
    except ImportError as err:
        raise ImportError('razor_ext.integrations.mmengine needs mmengine (pip install mmengine)') from err
    target = MM_MODELS if registry is None else registry
    done: dict[str, list[str]] = {'registered': [], 'skipped': []}
    for name in MODELS.keys():
        cls = MODELS.get(name)
        existing = target.module_dict.get(name)
        if existing is cls:
            continue
        # Scoped aliases ('mmcls.X', 'mmrazor.X') are MMEngine's own scope syntax: skipped.
        if existing is not None or not callable(cls) or '.' in name:
            done['skipped'].append(name)
            continue
        try:
            target.register_module(name=name, module=cls)
        except KeyError:  # MMEngine registered that name meanwhile (its lazy imports)
            done['skipped'].append(name)
            continue
        done['registered'].append(name)
    return done
