"""``QConfig``: how weights and activations are quantized, with per-module overrides and presets."""
from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any

from torch import nn

from razor_ext.quantization.fake_quantize import FakeQuantize

__all__ = ['QScheme', 'QConfig', 'PRESETS', 'as_qconfig']


@dataclasses.dataclass(frozen=True)
class QScheme:
    """One tensor's quantization: bits, range kind, granularity, observer and fake quant.

    Args:
        bits: 2..8.
        symmetric: symmetric (zero point fixed) or affine.
        per_channel: per output channel (axis 0 for weights) or per tensor.
        signed: integer range ``[-2^(b-1), 2^(b-1) - 1]`` or ``[0, 2^b - 1]``.
        narrow_range: drop the most negative code (TensorRT's ``[-127, 127]``).
        observer: observer type name; None picks by mode (min/max for PTQ, moving average for QAT).
        observer_kwargs: extra observer arguments (e.g. ``method='mse'`` for histograms).
        learnable: :class:`~razor_ext.quantization.fake_quantize.LearnableFakeQuantize` (LSQ) instead of
            :class:`~razor_ext.quantization.fake_quantize.FakeQuantize`.

    Example:
        >>> QScheme(bits=4).quant_range
        (-8, 7)
    """

    bits: int = 8
    symmetric: bool = True
    per_channel: bool = False
    signed: bool = True
    narrow_range: bool = False
    observer: str | None = None
    observer_kwargs: tuple[tuple[str, Any], ...] = ()
    learnable: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.bits, int) or not 2 <= self.bits <= 8:
            raise ValueError(f'bits must be an int in 2..8, got {self.bits!r}')
        if isinstance(self.observer_kwargs, Mapping):
            object.__setattr__(self, 'observer_kwargs', tuple(sorted(self.observer_kwargs.items())))

    @property
    def quant_range(self) -> tuple[int, int]:
        """``(quant_min, quant_max)``."""
        if self.signed:
            low = -(2 ** (self.bits - 1)) + int(self.narrow_range)
            return low, 2 ** (self.bits - 1) - 1
        return int(self.narrow_range), 2 ** self.bits - 1

    def build(self, mode: str, ch_axis: int = 0) -> FakeQuantize:
        """A fresh fake quant for this scheme (``mode`` picks the default observer)."""
        from razor_ext.quantization.fake_quantize import LearnableFakeQuantize

        qmin, qmax = self.quant_range
        axis = ch_axis if self.per_channel else None
        observer = self.observer
        if observer is None:
            if self.learnable:
                observer = 'LSQPerChannelObserver' if self.per_channel else 'LSQObserver'
            elif mode == 'qat':
                observer = ('MovingAveragePerChannelMinMaxObserver' if self.per_channel
                            else 'MovingAverageMinMaxObserver')
            else:
                observer = 'PerChannelMinMaxObserver' if self.per_channel else 'MinMaxObserver'
        obs_cfg: dict[str, Any] = dict(type=observer, **dict(self.observer_kwargs))
        cls = LearnableFakeQuantize if self.learnable else FakeQuantize
        return cls(obs_cfg, quant_min=qmin, quant_max=qmax, symmetric=self.symmetric, ch_axis=axis)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out['observer_kwargs'] = dict(self.observer_kwargs)
        return out


def _scheme(value: QScheme | Mapping[str, Any] | None, what: str) -> QScheme | None:
    if value is None or isinstance(value, QScheme):
        return value
    if isinstance(value, Mapping):
        return QScheme(**value)
    raise TypeError(f'{what} must be a QScheme, a dict or None, got {type(value).__name__}')


def _type_name(cls: type) -> str:
    return f'{cls.__module__}.{cls.__qualname__}'


def _resolve_type(name: str) -> type:
    module, _, qualname = name.rpartition('.')
    obj: Any = importlib.import_module(module)
    for part in qualname.split('.'):
        obj = getattr(obj, part)
    return obj


@dataclasses.dataclass(frozen=True)
class QConfig:
    """Weight and activation schemes plus per-module overrides (mixed precision).

    ``overrides`` maps a module name (exact, or a prefix ending in ``'.'``... any name whose
    qualified path starts with ``name + '.'`` also matches) or a module type to a ``QConfig``,
    a dict of ``QConfig`` fields, a preset name, or None (the module stays float). The most
    specific override wins: exact name, then the longest prefix, then the type.

    Example:
        >>> qc = QConfig.from_preset('w4a8', overrides={'fc': 'int8', nn.Conv1d: None})
        >>> qc.for_module('fc', nn.Linear(2, 2)).weight.bits, qc.for_module('c', nn.Conv1d(1, 1, 1))
        (8, None)
    """

    weight: QScheme | None = QScheme(bits=8, symmetric=True, per_channel=True)
    activation: QScheme | None = QScheme(bits=8, symmetric=False, signed=False)
    overrides: tuple[tuple[Any, Any], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, 'weight', _scheme(self.weight, 'weight'))
        object.__setattr__(self, 'activation', _scheme(self.activation, 'activation'))
        items = self.overrides.items() if isinstance(self.overrides, Mapping) else self.overrides
        fixed = []
        for key, value in items:
            if isinstance(key, str) and key.startswith('type:'):
                key = _resolve_type(key[5:])
            if not isinstance(key, (str, type)):
                raise TypeError(f'override keys must be module names or types, got {key!r}')
            fixed.append((key, None if value is None else as_qconfig(value)))
        object.__setattr__(self, 'overrides', tuple(fixed))

    @classmethod
    def from_preset(cls, name: str, **changes: Any) -> QConfig:
        """A preset by name (see :data:`PRESETS`), with fields replaced by ``changes``."""
        if name not in PRESETS:
            raise KeyError(f'unknown qconfig preset {name!r}; presets: {sorted(PRESETS)}')
        return dataclasses.replace(PRESETS[name], **changes)

    def for_module(self, name: str, module: nn.Module) -> QConfig | None:
        """The config of module ``name`` (None: keep it float)."""
        best: tuple[int, Any] | None = None
        for key, value in self.overrides:
            if isinstance(key, str):
                if name == key:
                    rank = 10 ** 6
                elif name.startswith(key + '.'):
                    rank = len(key)
                else:
                    continue
            elif isinstance(module, key):
                rank = -1
            else:
                continue
            if best is None or rank > best[0]:
                best = (rank, value)
        if best is None:
            return self
        return best[1]

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (saved in checkpoints); :func:`as_qconfig` reads it back."""
        overrides = []
        for key, value in self.overrides:
            k = f'type:{_type_name(key)}' if isinstance(key, type) else key
            overrides.append([k, None if value is None else value.to_dict()])
        return dict(weight=None if self.weight is None else self.weight.to_dict(),
                    activation=None if self.activation is None else self.activation.to_dict(),
                    overrides=overrides)


def as_qconfig(value: QConfig | str | Mapping[str, Any]) -> QConfig:
    """A :class:`QConfig` from itself, a preset name, or a dict (``preset`` key allowed).

    Example:
        >>> as_qconfig('int8').weight.per_channel, as_qconfig({'preset': 'w4a8'}).weight.bits
        (False, 4)
    """
    if isinstance(value, QConfig):
        return value
    if isinstance(value, str):
        return QConfig.from_preset(value)
    if isinstance(value, Mapping):
        fields = dict(value)
        preset = fields.pop('preset', None)
        if preset is not None:
            return QConfig.from_preset(preset, **fields)
        return QConfig(**fields)
    raise TypeError(f'qconfig must be a QConfig, a preset name or a dict, got {type(value).__name__}')


_ACT8 = QScheme(bits=8, symmetric=False, signed=False)
# The default 8-bit weights are symmetric int8 codes per channel: the form that int8 runtimes
# accelerate (OpenVINO's CPU plugin and onnxruntime's VNNI/AMX kernels take s8 weights; with
# uint8 weights OpenVINO finds no int8 path at all and onnxruntime runs a slower u8u8 kernel).
# The '_u8' presets keep uint8 weight codes (zero point 128, the same grid): onnxruntime's u8s8
# kernels on x86 CPUs *without* VNNI sum int16 pairs and can saturate, u8u8 cannot; OpenVINO's
# int8 kernels saturate there too, and run '_u8' layers in float.
_W8 = QScheme(bits=8, symmetric=True)
_W8C = QScheme(bits=8, symmetric=True, per_channel=True)
_W8_U8 = QScheme(bits=8, symmetric=True, signed=False)
_W8C_U8 = QScheme(bits=8, symmetric=True, signed=False, per_channel=True)
PRESETS: dict[str, QConfig] = {
    'int8': QConfig(_W8, _ACT8),
    'int8_per_channel': QConfig(_W8C, _ACT8),
    # the names the signed presets had when the default was unsigned; kept for old configs
    'int8_s8': QConfig(_W8, _ACT8),
    'int8_per_channel_s8': QConfig(_W8C, _ACT8),
    'int8_u8': QConfig(_W8_U8, _ACT8),
    'int8_per_channel_u8': QConfig(_W8C_U8, _ACT8),
    'int8_symmetric': QConfig(_W8C, QScheme(8, symmetric=True)),
    'w4a8': QConfig(QScheme(4, symmetric=True, per_channel=True), _ACT8),
    'w4a8_per_tensor': QConfig(QScheme(4, symmetric=True), _ACT8),
    'w2a8': QConfig(QScheme(2, symmetric=True, per_channel=True), _ACT8),
    'lsq_int8': QConfig(QScheme(8, symmetric=True, per_channel=True, learnable=True),
                        QScheme(8, symmetric=False, signed=False, learnable=True)),
    'lsq_w4a8': QConfig(QScheme(4, symmetric=True, per_channel=True, learnable=True),
                        QScheme(8, symmetric=False, signed=False, learnable=True)),
    # MMRazor's OpenVINO / TensorRT configs (configs/quantization/ptq/base/ptq_{openvino,tensorrt}_*):
    # per-channel int8 weights on the symmetric range [-127, 127]; activations uint8 (OpenVINO) or
    # int8 (TensorRT). OpenVINO's uint8 activations are affine here: post-ReLU tensors use the whole
    # [0, 255] grid, and OpenVINO's CPU plugin runs u8 x s8 either way.
    'openvino_int8': QConfig(QScheme(8, symmetric=True, per_channel=True, narrow_range=True), _ACT8),
    'tensorrt_int8': QConfig(QScheme(8, symmetric=True, per_channel=True, narrow_range=True),
                             QScheme(8, symmetric=True, narrow_range=True)),
    'histogram_int8': QConfig(_W8C, QScheme(8, symmetric=False, signed=False,
                                            observer='HistogramObserver')),
}
