"""Bit widths as searchable choices: a :class:`BitWidthFakeQuantize` per layer weight and input,
whose bit width is a :class:`~razor_ext.supernet.mutables.OneShotMutableValue` (16 = float).

:func:`attach_bit_widths` gives every conv / linear of a model or supernet (dynamic ops included)
a weight and an input fake quant driven by such mutables, so a ``NasMutator`` searches them next
to operators and channel widths and a subnet file records the chosen widths under the aliases
``'<layer>.weight_bits'`` / ``'<layer>.act_bits'`` (or a group name). :func:`bit_width_qconfig`
turns the chosen widths into a per-layer :class:`QConfig` for a static subnet, so the deployed
model is prepared, calibrated and exported as QDQ ONNX by the ordinary quantization path.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from razor_ext.quantization.qconfig import QConfig, QScheme
from razor_ext.supernet.mutables import OneShotMutableValue

__all__ = ['FLOAT_BITS', 'BitWidthFakeQuantize', 'attach_bit_widths', 'detach_bit_widths',
           'bit_width_layers', 'bit_width_qconfig', 'weight_scheme', 'activation_scheme']

FLOAT_BITS = 16  # the "keep float" choice (fp16/fp32 deployment: no fake quant)


def weight_scheme(bits: int) -> QScheme:
    """Symmetric signed per-output-channel weights: the int8 path of OpenVINO and onnxruntime's s8
    kernels; widths < 8 keep int8 storage with a narrower range (``(-8, 7)`` at 4 bits)."""
    return QScheme(bits=bits, symmetric=True, per_channel=True, signed=True)


def activation_scheme(bits: int) -> QScheme:
    """Affine unsigned per-tensor activations (uint8 codes at 8 bits)."""
    return QScheme(bits=bits, symmetric=False, signed=False)


class BitWidthFakeQuantize(nn.Module):
    """A fake quant whose bit width is searched: one :class:`FakeQuantize` per integer choice,
    the one of ``bits.current_choice`` quantizes, ``16`` passes the float tensor through.

    While observing, every width's observer sees the tensor, so one calibration (or QAT step)
    serves all widths and any sampled subnet can be evaluated without recalibrating.

    Args:
        choices: bit widths, e.g. ``(4, 8, 16)``; integers in 2..8, or 16 (float).
        kind: ``'weight'`` (per output channel, axis 0) or ``'activation'`` (per tensor).
        alias: the mutable's alias (its search group and subnet-file key).
        mode: ``'qat'`` (moving-average observers) or ``'ptq'`` (min/max).

    Shapes: any ``(C_out, ...)`` weight or ``(N, C, ...)`` activation -> same shape.

    Example:
        >>> fq = BitWidthFakeQuantize((4, 8, 16), 'weight', alias='fc.weight_bits')
        >>> w = torch.randn(3, 5)
        >>> fq.bits.current_choice = 4
        >>> len(torch.unique(fq(w)[0])) <= 16, fq.bits.current_choice
        (True, 4)
        >>> fq.bits.current_choice = 16
        >>> torch.equal(fq(w), w)
        True
    """

    def __init__(self, choices: Sequence[int], kind: str = 'weight', alias: str | None = None,
                 mode: str = 'qat') -> None:
        super().__init__()
        if kind not in ('weight', 'activation'):
            raise ValueError(f"kind must be 'weight' or 'activation', got {kind!r}")
        choices = [int(b) for b in choices]
        if not choices or any(not (2 <= b <= 8 or b == FLOAT_BITS) for b in choices):
            raise ValueError(f'bit choices must be ints in 2..8 or {FLOAT_BITS} (float), got {choices}')
        self.kind = kind
        self.bits = OneShotMutableValue(sorted(set(choices)), alias=alias)
        scheme = weight_scheme if kind == 'weight' else activation_scheme
        self.fake_quants = nn.ModuleDict()
        for b in self.bits.choices:
            if b == FLOAT_BITS:
                continue
            s = scheme(b)
            if kind == 'weight' and mode == 'qat':
                # weights change every step: observe the current ones, not a lagging average
                s = QScheme(**{**s.to_dict(), 'observer': 'MovingAveragePerChannelMinMaxObserver',
                               'observer_kwargs': {'averaging_constant': 1.0}})
            self.fake_quants[str(b)] = s.build(mode, ch_axis=0 if kind == 'weight' else 1)

    @property
    def current_bits(self) -> int:
        return int(self.bits.current_choice)

    def forward(self, x: Tensor) -> Tensor:
        bits = self.current_bits
        active = self.fake_quants[str(bits)] if bits != FLOAT_BITS else None
        for fq in self.fake_quants.values():
            if fq is not active and bool(fq.observer_enabled) and not torch.onnx.is_in_onnx_export():
                fq.activation_post_process(x.detach())
                fq._stale = True
        return x if active is None else active(x)


class _QuantizedWeight(nn.Module):
    """The parametrization ``weight -> quant(weight)`` (dynamic ops then read the quantized weight)."""

    def __init__(self, quant: BitWidthFakeQuantize) -> None:
        super().__init__()
        self.quant = quant

    def forward(self, weight: Tensor) -> Tensor:
        return self.quant(weight)


def _quantize_input(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (module.act_bit_quant(args[0]),) + tuple(args[1:])


def bit_width_layers(model: nn.Module) -> dict[str, tuple[BitWidthFakeQuantize, BitWidthFakeQuantize]]:
    """``{layer name: (weight quant, input quant)}`` of the layers :func:`attach_bit_widths` set up."""
    out = {}
    for name, module in model.named_modules():
        if hasattr(module, 'act_bit_quant') and parametrize.is_parametrized(module, 'weight'):
            out[name] = (module.parametrizations.weight[0].quant, module.act_bit_quant)
    return out


def attach_bit_widths(model: nn.Module, weight_bits: Sequence[int] = (4, 8, FLOAT_BITS),
                      act_bits: Sequence[int] = (8, FLOAT_BITS),
                      types: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear),
                      skip: Iterable[str] = (), group: Callable[[str], str] | None = None,
                      mode: str = 'qat') -> dict[str, tuple[BitWidthFakeQuantize, BitWidthFakeQuantize]]:
    """Give each conv / linear of ``model`` (in place) searchable weight and input bit widths.

    The weight goes through a :class:`BitWidthFakeQuantize` as a ``torch.nn.utils.parametrize``
    parametrization (so dynamic ops, which read ``self.weight``, see the quantized weight) and the
    layer's input through another one (a forward pre-hook). The mutables are ordinary
    ``OneShotMutableValue`` s: ``NasMutator.prepare_from_supernet`` finds them, ``export_fix_subnet``
    writes them.

    Args:
        model: a model or supernet; modified in place.
        weight_bits, act_bits: the width choices (16 = float).
        types: layer types to attach to (subclasses included: ``DynamicConv2d`` is a conv).
        skip: layer names left alone (e.g. the first conv, the classifier).
        group: ``group(layer name) -> group name``: layers with the same group share one choice
            (aliases ``'<group>.weight_bits'`` / ``'<group>.act_bits'``); default: one per layer.
        mode: ``'qat'`` or ``'ptq'`` observers.

    Returns:
        :func:`bit_width_layers` of the model.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16, 2))
        >>> sorted(attach_bit_widths(net))
        ['0', '3']
        >>> net[0].parametrizations.weight[0].quant.bits.alias
        '0.weight_bits'
    """
    skip = set(skip)
    targets = [(n, m) for n, m in model.named_modules()
               if isinstance(m, types) and n not in skip and not hasattr(m, 'act_bit_quant')]
    if not targets:
        kinds = [t.__name__ for t in types]
        raise ValueError(f'attach_bit_widths: {type(model).__name__} has no {kinds} '
                         f'layers to attach to (skip={sorted(skip)})')
    for name, module in targets:
        key = group(name) if group is not None else name
        wq = BitWidthFakeQuantize(weight_bits, 'weight', alias=f'{key}.weight_bits', mode=mode)
        aq = BitWidthFakeQuantize(act_bits, 'activation', alias=f'{key}.act_bits', mode=mode)
        parametrize.register_parametrization(module, 'weight', _QuantizedWeight(wq), unsafe=True)
        module.act_bit_quant = aq
        module._bit_width_hook = module.register_forward_pre_hook(_quantize_input)
    return bit_width_layers(model)


def detach_bit_widths(model: nn.Module) -> nn.Module:
    """Undo :func:`attach_bit_widths` in place: float weights back as plain parameters, no hooks."""
    for name, _ in bit_width_layers(model).items():
        module = model.get_submodule(name)
        # parametrize gives the module a class of its own, but a deepcopy shares it with the
        # original: removing the weight property from a shared class would strip the original too
        cls = type(module)
        module.__class__ = type(cls.__name__, cls.__bases__, dict(cls.__dict__))
        parametrize.remove_parametrizations(module, 'weight', leave_parametrized=False)
        module._bit_width_hook.remove()
        del module.act_bit_quant
        del module._bit_width_hook
    return model


def _execution_order(model: nn.Module, example_inputs: tuple[Tensor, ...],
                     types: tuple[type[nn.Module], ...]) -> list[str]:
    order: list[str] = []
    names = {id(m): n for n, m in model.named_modules()}
    handles = [m.register_forward_pre_hook(lambda mod, args: order.append(names[id(mod)]))
               for m in model.modules() if isinstance(m, types)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(*example_inputs)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return order


def bit_width_qconfig(supernet: nn.Module, static: nn.Module,
                      example_inputs: Tensor | tuple[Tensor, ...],
                      base: QConfig | None = None) -> QConfig:
    """A per-layer :class:`QConfig` for ``static`` (the subnet exported from ``supernet``) holding
    the bit widths currently chosen in ``supernet``.

    Layers are matched by execution order: the convs / linears that run in the supernet's current
    subnet and those that run in the static model are the same layers in the same order (an
    unchosen candidate runs none). A layer at 16/16 bits, or one without bit widths attached,
    stays float.

    Raises:
        ValueError: the two models do not run the same number of layers.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
        >>> layers = attach_bit_widths(net)
        >>> layers['2'][0].bits.current_choice = 4
        >>> static = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
        >>> qc = bit_width_qconfig(net, static, torch.randn(1, 4))
        >>> qc.for_module('2', static[2]).weight.bits, qc.for_module('0', static[0])  # 16/16: float
        (4, None)
    """
    inputs = (example_inputs,) if isinstance(example_inputs, Tensor) else tuple(example_inputs)
    layers = bit_width_layers(supernet)
    ran = _execution_order(supernet, inputs, (nn.Conv2d, nn.Linear))
    static_ran = _execution_order(static, inputs, (nn.Conv2d, nn.Linear))
    if len(ran) != len(static_ran):
        raise ValueError(f'bit_width_qconfig: the supernet ran {len(ran)} convs/linears, the static '
                         f'model {len(static_ran)} convs/linears: they are not the same subnet')
    base = base or QConfig(weight_scheme(8), activation_scheme(8))
    overrides: dict[Any, Any] = {}
    for super_name, static_name in zip(ran, static_ran):
        if super_name not in layers:  # not searched (skipped at attach): stays float
            overrides[static_name] = None
            continue
        wq, aq = layers[super_name]
        wb, ab = wq.current_bits, aq.current_bits
        weight = None if wb == FLOAT_BITS else weight_scheme(wb)
        act = None if ab == FLOAT_BITS else activation_scheme(ab)
        overrides[static_name] = None if weight is None and act is None else QConfig(weight, act)
    return QConfig(base.weight, base.activation, overrides=overrides)
