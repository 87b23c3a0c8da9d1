"""DistillDeliveryManager: named deliveries as one context manager."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from razor_ext.distill.deliveries.distill_delivery import DistillDelivery
from razor_ext.distill.recorders.build_errors import with_context
from razor_ext.registry import MODELS


class DistillDeliveryManager:
    """Builds ``{name: dict(type='MethodOutputs', method_path=..., max_keep_data=1)}`` and
    switches them all between recording (teacher) and replaying (student).

    Example:
        >>> import torch
        >>> m = DistillDeliveryManager({'noise': dict(type='FunctionOutputs',
        ...                                           func_path='torch.randn')})
        >>> with m:
        ...     a = torch.randn(3)
        >>> m.override_data = True
        >>> with m:
        ...     b = torch.randn(3)
        >>> torch.equal(a, b)
        True
    """

    def __init__(self, deliveries: Mapping[str, Any] | None = None) -> None:
        self._deliveries: dict[str, DistillDelivery] = {}
        for name, cfg in (deliveries or {}).items():
            if not isinstance(cfg, Mapping) or not isinstance(cfg.get('type'), str):
                raise TypeError(f'delivery {name!r} must be a config dict with a str type, '
                                f'got {cfg!r}')
            kind = cfg['type'] if cfg['type'].endswith('Delivery') else cfg['type'] + 'Delivery'
            try:
                self._deliveries[name] = MODELS.build(dict(cfg, type=kind))
            except Exception as err:
                raise with_context(err, f'delivery {name!r}') from err
        self._override_data = False

    @property
    def deliveries(self) -> dict[str, DistillDelivery]:
        return self._deliveries

    @property
    def override_data(self) -> bool:
        return self._override_data

    @override_data.setter
    def override_data(self, override: bool) -> None:
        self._override_data = override
        for delivery in self._deliveries.values():
            delivery.override_data = override

    def __enter__(self) -> DistillDeliveryManager:
        entered: list[DistillDelivery] = []
        try:
            for delivery in self._deliveries.values():
                delivery.__enter__()
                entered.append(delivery)
        except BaseException:
            for delivery in reversed(entered):
                delivery.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for delivery in reversed(list(self._deliveries.values())):
            delivery.__exit__(*exc)
