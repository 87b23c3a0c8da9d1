"""``FakeQuantize``: an observer plus fake quantization, with separate explicit switches."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext import ops
from razor_ext.quantization.functional import fake_quantize
from razor_ext.quantization.observers.base import BaseObserver, ObserverError, ResizingBuffersMixin
from razor_ext.quantization.observers.minmax import MovingAverageMinMaxObserver
from razor_ext.registry import MODELS

__all__ = ['FakeQuantize', 'build_observer']


def build_observer(observer: BaseObserver | Mapping[str, Any], **defaults: Any) -> BaseObserver:
    """An observer module from an instance or a ``MODELS`` config dict (``defaults`` fill gaps)."""
    if isinstance(observer, BaseObserver):
        return observer
    if isinstance(observer, Mapping):
        cfg = {**defaults, **observer}
        built = MODELS.build(cfg)
        if not isinstance(built, BaseObserver):
            raise TypeError(f'observer config built a {type(built).__name__}, not an observer')
        return built
    raise TypeError(f'observer must be a BaseObserver or a config dict, got {type(observer).__name__}')


@MODELS.register_module()
class FakeQuantize(ResizingBuffersMixin, nn.Module):
    """Observe a tensor and fake-quantize it with the ``scale``/``zero_point`` buffers.

    Three explicit switches, each a buffer saved with the model:

    * ``enable_observer()`` / ``disable_observer()``: record statistics in ``forward``;
    * ``enable_fake_quant()`` / ``disable_fake_quant()``: quantize the output (else identity);
    * ``freeze()``: stop observing for good; ``enable_observer()`` then raises until
      ``unfreeze()``.

    With a moving-average min/max observer, an observing *and* quantizing forward (the QAT step)
    is one :func:`razor_ext.ops.fused_observe_fake_quantize` call: the observer's running range,
    ``scale`` and ``zero_point`` are updated in place and ``x`` is quantized with the new
    qparams, as the unfused path (observe, recompute, quantize) would.

    Qparams are recomputed from the observer lazily (before a quantized forward, a state-dict save
    or :meth:`sync_qparams`), so the ``scale``/``zero_point`` buffers are always the ones the
    quantized forward uses and the ones export writes.

    Args:
        observer: an observer or ``MODELS`` config dict; ``quant_min``, ``quant_max``,
            ``symmetric`` and ``ch_axis`` are passed to a config dict.
        quant_min, quant_max: integer range.
        symmetric: symmetric range (zero point fixed).
        ch_axis: channel dim for per-channel quantization, or None.

    Example:
        >>> fq = FakeQuantize(dict(type='MinMaxObserver'), quant_min=0, quant_max=255)
        >>> _ = fq(torch.tensor([0.0, 2.55]))
        >>> fq(torch.tensor([1.006])).tolist(), round(fq.scale.item(), 6)
        ([1.0099999904632568], 0.01)
    """

    def __init__(self, observer: BaseObserver | Mapping[str, Any] | None = None, quant_min: int = 0,
                 quant_max: int = 255, symmetric: bool = False, ch_axis: int | None = None) -> None:
        super().__init__()
        if not quant_min < quant_max:
            raise ValueError(f'quant_min must be < quant_max, got {quant_min}, {quant_max}')
        self.quant_min, self.quant_max = int(quant_min), int(quant_max)
        self.symmetric, self.ch_axis = bool(symmetric), ch_axis
        if observer is None:
            observer = dict(type='MinMaxObserver' if ch_axis is None else 'PerChannelMinMaxObserver')
        obs_defaults: dict[str, Any] = dict(quant_min=quant_min, quant_max=quant_max, symmetric=symmetric)
        if ch_axis is not None:
            obs_defaults['ch_axis'] = ch_axis
        self.activation_post_process = build_observer(observer, **obs_defaults)
        self.register_buffer('scale', torch.ones(1))
        self.register_buffer('zero_point', torch.zeros(1, dtype=torch.int32))
        self.register_buffer('observer_enabled', torch.tensor(True))
        self.register_buffer('fake_quant_enabled', torch.tensor(True))
        self.register_buffer('frozen', torch.tensor(False))
        self.register_buffer('calibrated', torch.tensor(False))
        self._stale = False

    # ---------------------------------------------------------------- switches
    def enable_observer(self, enabled: bool = True) -> FakeQuantize:
        """Record statistics in ``forward`` (raises on a frozen fake quant)."""
        if enabled and bool(self.frozen):
            raise RuntimeError(f'{self.module_name!r}: fake quant is frozen; unfreeze() first')
        self.observer_enabled.fill_(bool(enabled))
        return self

    def disable_observer(self) -> FakeQuantize:
        """Stop recording statistics; qparams stay as they are."""
        self.sync_qparams()
        self.observer_enabled.fill_(False)
        return self

    def enable_fake_quant(self, enabled: bool = True) -> FakeQuantize:
        """Quantize in ``forward``."""
        self.fake_quant_enabled.fill_(bool(enabled))
        return self

    def disable_fake_quant(self) -> FakeQuantize:
        """Pass inputs through unchanged."""
        return self.enable_fake_quant(False)

    def freeze(self) -> FakeQuantize:
        """Fix the qparams: observation off until :meth:`unfreeze`."""
        self.disable_observer()
        self.frozen.fill_(True)
        return self

    def unfreeze(self) -> FakeQuantize:
        """Allow :meth:`enable_observer` again (does not enable it)."""
        self.frozen.fill_(False)
        return self

    @property
    def module_name(self) -> str:
        return self.activation_post_process.module_name

    @module_name.setter
    def module_name(self, name: str) -> None:
        self.activation_post_process.module_name = name

    # ---------------------------------------------------------------- qparams
    def sync_qparams(self) -> None:
        """Copy the observer's qparams into ``scale``/``zero_point`` if it saw new data."""
        if not self._stale:
            return
        scale, zp = self.activation_post_process.calculate_qparams()
        self._store_qparams(scale, zp)
        self._stale = False
        self.calibrated.fill_(True)

    def sync_across_ranks(self) -> None:
        """Reduce the observer's range over all ranks and, while observing, recompute
        ``scale``/``zero_point`` from it: every rank then holds the qparams of all ranks' data
        (a no-op in a single process)."""
        observer = self.activation_post_process
        if not isinstance(observer, BaseObserver) or not bool(self.observer_enabled):
            return
        observer.sync_across_ranks()
        if observer.observed:
            self._stale = True
            self.sync_qparams()

    def _store_qparams(self, scale: Tensor, zp: Tensor) -> None:
        with torch.no_grad():
            if self.scale.shape != scale.shape:
                self.scale = torch.empty_like(scale, device=self.scale.device)
                self.zero_point = torch.empty_like(zp, device=self.zero_point.device)
            self.scale.copy_(scale)
            self.zero_point.copy_(zp)

    def calculate_qparams(self) -> tuple[Tensor, Tensor]:
        """The qparams used by a quantized forward."""
        self.sync_qparams()
        return self.scale, self.zero_point

    def _save_to_state_dict(self, destination: dict[str, Any], prefix: str, keep_vars: bool) -> None:
        self.sync_qparams()
        super()._save_to_state_dict(destination, prefix, keep_vars)

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._stale = False  # loaded qparams win over anything observed before

    # ---------------------------------------------------------------- forward
    def forward(self, x: Tensor) -> Tensor:
        if self._can_fuse(x):
            return self._fused_observe_quantize(x)
        if bool(self.observer_enabled) and not torch.onnx.is_in_onnx_export():
            self.activation_post_process(x.detach())
            self._stale = True
        if not bool(self.fake_quant_enabled):
            return x
        self.sync_qparams()
        if not bool(self.calibrated):
            raise RuntimeError(f'{self.module_name!r}: fake quant enabled before any observation: '
                               f'calibrate first (or load calibrated qparams)')
        return self._quantize(x)

    def _can_fuse(self, x: Tensor) -> bool:
        obs = self.activation_post_process
        return (isinstance(obs, MovingAverageMinMaxObserver) and bool(self.observer_enabled)
                and bool(self.fake_quant_enabled) and x.dtype in (torch.float32, torch.float64)
                and obs.eps == torch.finfo(torch.float32).eps  # the op's scale floor
                and (obs.quant_min, obs.quant_max, obs.symmetric, obs.ch_axis)
                == (self.quant_min, self.quant_max, self.symmetric, self.ch_axis)
                and not torch.onnx.is_in_onnx_export())

    def _fused_observe_quantize(self, x: Tensor) -> Tensor:
        obs = self.activation_post_process
        if x.numel() == 0:
            raise ObserverError(f'observer of {self.module_name!r}: empty tensor')
        self.sync_qparams()  # qparams owed to an earlier unfused observation come first
        axis = None if self.ch_axis is None else self.ch_axis % x.dim()
        channels = 1 if axis is None else x.shape[axis]
        # The op sizes nothing itself. Keep the shapes the unfused observer keeps (0-dim per
        # tensor), so the two paths can alternate without resetting the running range.
        shape = torch.Size(() if axis is None else (channels,))
        if obs.min_val.shape != shape:
            if obs.min_val.numel() == channels and obs.observed:
                obs.min_val, obs.max_val = obs.min_val.reshape(shape), obs.max_val.reshape(shape)
            else:
                obs.min_val = torch.full(shape, float('inf'), device=x.device)
                obs.max_val = torch.full(shape, float('-inf'), device=x.device)
        if self.scale.numel() != channels:
            self._store_qparams(torch.ones(channels, device=x.device),
                                torch.zeros(channels, dtype=torch.int32, device=x.device))
        try:
            y = ops.fused_observe_fake_quantize(
                x, obs.min_val, obs.max_val, self.scale, self.zero_point, self.quant_min,
                self.quant_max, axis, obs.averaging_constant, self.symmetric)
        except ValueError as err:
            raise ObserverError(f'observer of {self.module_name!r}: {err}') from None
        self._stale = False
        self.calibrated.fill_(True)
        return y

    def _quantize(self, x: Tensor) -> Tensor:
        return fake_quantize(x, self.scale, self.zero_point, self.quant_min, self.quant_max,
                             self.ch_axis)

    def extra_repr(self) -> str:
        return (f'quant_min={self.quant_min}, quant_max={self.quant_max}, symmetric={self.symmetric}, '
                f'ch_axis={self.ch_axis}, observer_enabled={bool(self.observer_enabled)}, '
                f'fake_quant_enabled={bool(self.fake_quant_enabled)}, frozen={bool(self.frozen)}')
