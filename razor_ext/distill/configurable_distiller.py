"""ConfigurableDistiller: recorders + connectors + losses wired by a config."""
from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from razor_ext.distill.deliveries import DistillDeliveryManager
from razor_ext.distill.recorders import RecorderManager
from razor_ext.distill.recorders.build_errors import with_context
from razor_ext.registry import MODELS

_RECORD_KEYS = {'recorder', 'from_student', 'record_idx', 'data_idx', 'connector', 'connector_idx'}


@MODELS.register_module()
class ConfigurableDistiller(nn.Module):
    """Computes distillation losses from what the recorders captured.

    Args:
        student_recorders, teacher_recorders: ``{name: dict(type='ModuleOutputs', source=...)}``.
        distill_deliveries: ``{name: dict(type='MethodOutputs', method_path=..., max_keep_data=1)}``.
        connectors: ``{name: cfg}`` or ``{name: [cfg, ...]}`` (a Sequential) applied to records.
        distill_losses: ``{name: dict(type='KLDivergence', tau=4)}``; names should contain
            ``'loss'`` to be summed for backward.
        loss_forward_mappings: ``{loss_name: {forward_arg: dict(recorder=..., from_student=...,
            record_idx=0, data_idx=None, connector=None, connector_idx=None)}}``.

    Every mapping is checked when the distiller is built: an unknown loss, forward argument,
    recorder or connector, a missing required argument, or a bad ``from_student`` raises an
    error naming it.

    Example:
        >>> import torch
        >>> d = ConfigurableDistiller(
        ...     student_recorders=dict(fc=dict(type='ModuleOutputs', source='0')),
        ...     teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='0')),
        ...     distill_losses=dict(loss_kl=dict(type='KLDivergence', tau=2.0)),
        ...     loss_forward_mappings=dict(loss_kl=dict(
        ...         preds_S=dict(recorder='fc', from_student=True),
        ...         preds_T=dict(recorder='fc', from_student=False))))
        >>> s, t = torch.nn.Sequential(torch.nn.Linear(2, 3)), torch.nn.Sequential(torch.nn.Linear(2, 3))
        >>> d.prepare_from_student(s); d.prepare_from_teacher(t)
        >>> with d.teacher_recorders:
        ...     _ = t(torch.ones(4, 2))
        >>> with d.student_recorders:
        ...     _ = s(torch.ones(4, 2))
        >>> sorted(d.compute_distill_losses())
        ['loss_kl']
    """

    def __init__(self, student_recorders: Mapping[str, Any] | None = None,
                 teacher_recorders: Mapping[str, Any] | None = None,
                 distill_deliveries: Mapping[str, Any] | None = None,
                 connectors: Mapping[str, Any] | None = None,
                 distill_losses: Mapping[str, Any] | None = None,
                 loss_forward_mappings: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.student_recorders = RecorderManager(student_recorders)
        self.teacher_recorders = RecorderManager(teacher_recorders)
        self.deliveries = DistillDeliveryManager(distill_deliveries)
        self.connectors = self._build_connectors(connectors or {})
        self.distill_losses = self._build_losses(distill_losses or {})
        mappings = dict(loss_forward_mappings or {})
        self._check_loss_forward_mappings(mappings)
        self.loss_forward_mappings = mappings

    # ------------------------------------------------------------------ building
    @staticmethod
    def _build_one(cfg: Any, what: str) -> nn.Module:
        if isinstance(cfg, nn.Module):
            return cfg
        try:
            module = MODELS.build(cfg)
        except Exception as err:
            raise with_context(err, f'{what}') from err
        if not isinstance(module, nn.Module):
            raise TypeError(f'{what} built a {type(module).__name__}, not an nn.Module')
        return module

    def _build_connectors(self, connectors: Mapping[str, Any]) -> nn.ModuleDict:
        built = nn.ModuleDict()
        for name, cfg in connectors.items():
            if isinstance(cfg, (list, tuple)):
                built[name] = nn.Sequential(*(self._build_one(c, f'connector {name!r}')
                                              for c in cfg))
            else:
                built[name] = self._build_one(cfg, f'connector {name!r}')
        return built

    def _build_losses(self, losses: Mapping[str, Any]) -> nn.ModuleDict:
        built = nn.ModuleDict()
        for name, cfg in losses.items():
            if 'loss' not in name:
                warnings.warn(f'distill loss {name!r} has no "loss" in its name: it will be logged '
                              f'but not added to the total that is back-propagated', UserWarning,
                              stacklevel=3)
            built[name] = self._build_one(cfg, f'distill loss {name!r}')
        return built

    def _check_loss_forward_mappings(self, mappings: Mapping[str, Any]) -> None:
        for loss_name, forward_mappings in mappings.items():
            if loss_name not in self.distill_losses:
                raise KeyError(f'loss_forward_mappings names loss {loss_name!r}, which is not in '
                               f'distill_losses {sorted(self.distill_losses)}')
            if not isinstance(forward_mappings, Mapping):
                raise TypeError(f'loss_forward_mappings[{loss_name!r}] must be a dict, got '
                                f'{type(forward_mappings).__name__}')
            loss = self.distill_losses[loss_name]
            params = inspect.signature(loss.forward).parameters
            for arg, record in forward_mappings.items():
                where = f'loss_forward_mappings[{loss_name!r}][{arg!r}]'
                if arg not in params:
                    raise KeyError(f'{where}: {type(loss).__name__}.forward has no argument '
                                   f'{arg!r}; its arguments are {list(params)}')
                self._check_record(where, record)
            missing = [name for name, p in params.items()
                       if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                              p.KEYWORD_ONLY)
                       and name not in forward_mappings]
            if missing:
                raise KeyError(f'loss_forward_mappings[{loss_name!r}] does not map the required '
                               f'argument(s) {missing} of {type(loss).__name__}.forward')

    def _check_record(self, where: str, record: Any) -> None:
        if not isinstance(record, Mapping):
            raise TypeError(f'{where} must be a dict(recorder=..., from_student=...), got '
                            f'{type(record).__name__}')
        unknown = set(record) - _RECORD_KEYS
        if unknown:
            raise KeyError(f'{where} has unknown key(s) {sorted(unknown)}; allowed: '
                           f'{sorted(_RECORD_KEYS)}')
        if 'recorder' not in record or 'from_student' not in record:
            raise KeyError(f'{where} needs both "recorder" and "from_student"')
        if not isinstance(record['from_student'], bool):
            raise TypeError(f'{where}: from_student must be a bool, got '
                            f'{type(record["from_student"]).__name__}')
        side = 'student' if record['from_student'] else 'teacher'
        manager = self.student_recorders if record['from_student'] else self.teacher_recorders
        if record['recorder'] not in manager.recorders:
            raise KeyError(f'{where}: recorder {record["recorder"]!r} is not in {side}_recorders '
                           f'{sorted(manager.recorders)}')
        connector = record.get('connector')
        if connector is not None and connector not in self.connectors:
            raise KeyError(f'{where}: connector {connector!r} is not in connectors '
                           f'{sorted(self.connectors)}')

    # ------------------------------------------------------------------ running
    def set_deliveries_override(self, override: bool) -> None:
        self.deliveries.override_data = override

    def prepare_from_student(self, model: nn.Module) -> None:
        self.student_recorders.initialize(model)

    def prepare_from_teacher(self, model: nn.Module) -> None:
        self.teacher_recorders.initialize(model)

    def get_record(self, recorder: str, from_student: bool, record_idx: int = 0,
                   data_idx: int | None = None, connector: str | None = None,
                   connector_idx: int | None = None) -> Any:
        """One record, optionally passed through a connector (and indexed)."""
        manager = self.student_recorders if from_student else self.teacher_recorders
        data = manager.get_recorder(recorder).get_record_data(record_idx, data_idx)
        if connector:
            data = self.connectors[connector](data)
        if connector_idx is not None:
            data = data[connector_idx]
        return data

    def compute_distill_losses(self) -> dict[str, Tensor]:
        """``{loss_name: value}`` from the current records; then clears the records."""
        try:
            return {name: self.distill_losses[name](**{arg: self.get_record(**rec)
                                                       for arg, rec in mapping.items()})
                    for name, mapping in self.loss_forward_mappings.items()}
        finally:
            self.student_recorders.reset()
            self.teacher_recorders.reset()
