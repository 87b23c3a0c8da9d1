"""MMRazor's ``global_qconfig`` (``w_observer`` / ``a_observer`` / ``w_fake_quant`` /
``a_fake_quant`` types and ``w_qscheme`` / ``a_qscheme`` dicts) as a razor_ext :class:`QConfig`."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from razor_ext.quantization.qconfig import QConfig, QScheme

_SCHEME_KEYS = {'qdtype', 'bit', 'is_symmetry', 'is_symmetric_range', 'averaging_constant'}


def _bare(cfg: Mapping[str, Any] | None) -> str | None:
    kind = (cfg or {}).get('type')
    return kind.split('.')[-1] if isinstance(kind, str) else None


def _scheme(qscheme: Mapping[str, Any], observer: Mapping[str, Any] | None,
            fake_quant: Mapping[str, Any] | None, what: str) -> QScheme:
    unknown = set(qscheme) - _SCHEME_KEYS
    if unknown:
        raise ValueError(f'{what}: unsupported qscheme keys {sorted(unknown)}; supported: {sorted(_SCHEME_KEYS)}')
    qdtype = qscheme.get('qdtype', 'qint8')
    if qdtype not in ('qint8', 'quint8'):
        raise ValueError(f"{what}: qdtype must be 'qint8' or 'quint8', got {qdtype!r}")
    observer_name = _bare(observer)
    kwargs = {k: v for k, v in dict(observer or {}).items() if k != 'type'}
    if 'averaging_constant' in qscheme:
        kwargs['averaging_constant'] = qscheme['averaging_constant']
    return QScheme(bits=int(qscheme.get('bit', 8)), symmetric=bool(qscheme.get('is_symmetry', True)),
                   per_channel=bool(observer_name and 'PerChannel' in observer_name),
                   signed=qdtype == 'qint8', narrow_range=bool(qscheme.get('is_symmetric_range', False)),
                   observer=observer_name, observer_kwargs=kwargs,
                   learnable=_bare(fake_quant) == 'LearnableFakeQuantize')


def qconfig_from_global(global_qconfig: Mapping[str, Any]) -> QConfig:
    """The :class:`QConfig` MMRazor's ``global_qconfig`` describes.

    Example:
        >>> qc = qconfig_from_global(dict(
        ...     w_observer=dict(type='mmrazor.PerChannelMinMaxObserver'),
        ...     a_observer=dict(type='mmrazor.MovingAverageMinMaxObserver'),
        ...     w_fake_quant=dict(type='mmrazor.FakeQuantize'), a_fake_quant=dict(type='mmrazor.FakeQuantize'),
        ...     w_qscheme=dict(qdtype='qint8', bit=8, is_symmetry=True, is_symmetric_range=True),
        ...     a_qscheme=dict(qdtype='quint8', bit=8, is_symmetry=True, averaging_constant=0.1)))
        >>> qc.weight.quant_range, qc.weight.per_channel, qc.activation.quant_range
        ((-127, 127), True, (0, 255))
    """
    if not isinstance(global_qconfig, Mapping):
        raise TypeError(f'global_qconfig must be a dict, got {type(global_qconfig).__name__}')
    g = dict(global_qconfig)
    return QConfig(weight=_scheme(g.get('w_qscheme') or {}, g.get('w_observer'), g.get('w_fake_quant'), 'w_qscheme'),
                   activation=_scheme(g.get('a_qscheme') or {}, g.get('a_observer'), g.get('a_fake_quant'),
                                      'a_qscheme'))
