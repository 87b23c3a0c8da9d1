"""Which (weight, activation) bit widths a runtime accelerates, and how a joint space keeps its
choices to those pairs.

OpenVINO runs a conv or linear in int8 only when both its input and its weights are int8 (s8
weights); everything else runs in float: a 4-bit weight is stored and run as int8 (the speed of
8 bits, the accuracy of 4: never better), weight-only or activation-only quantization adds
(de)quantize work to a float layer. In the demo supernet's OpenVINO table (2026-12-07, one
noisy measurement on a shared host) the 64-wide 3x3 conv with int8 activations and float weights
took 1.6 ms against 0.06-0.14 ms for its all-int8 and all-float versions. So for OpenVINO a unit
is searched as int8 (8/8) or float (16/16).
onnxruntime keeps every combination: its kernels differ per pair (the table decides).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ['RUNTIME_BIT_PAIRS', 'bit_pairs_for', 'tie_bits', 'allows']

RUNTIME_BIT_PAIRS: dict[str, tuple[tuple[int, int], ...]] = {'openvino': ((8, 8), (16, 16))}

_W, _A = '.weight_bits', '.act_bits'


def bit_pairs_for(runtime: str) -> tuple[tuple[int, int], ...] | None:
    """The (weight, activation) pairs worth searching for ``runtime`` (None: all).

    Example:
        >>> bit_pairs_for('openvino'), bit_pairs_for('onnxruntime')
        (((8, 8), (16, 16)), None)
    """
    return RUNTIME_BIT_PAIRS.get(runtime)


def tie_bits(choices: Mapping[str, Any], pairs: Sequence[tuple[int, int]] | None) -> dict[str, Any]:
    """``choices`` with every ``'<g>.weight_bits'`` / ``'<g>.act_bits'`` pair made one of
    ``pairs``: kept if it is one, else the pair with the same weight bits (the first pair when
    none has them).

    Example:
        >>> tie_bits({'b.weight_bits': 16, 'b.act_bits': 8, 'b.op': 'x'}, ((8, 8), (16, 16)))
        {'b.weight_bits': 16, 'b.act_bits': 16, 'b.op': 'x'}
    """
    out = dict(choices)
    if not pairs:
        return out
    for group, w in choices.items():
        if not group.endswith(_W) or group[:-len(_W)] + _A not in choices:
            continue
        act = group[:-len(_W)] + _A
        if (w, choices[act]) not in pairs:
            w, a = next((p for p in pairs if p[0] == w), pairs[0])
            out[group], out[act] = w, a
    return out


def allows(choices: Mapping[str, Any], pairs: Sequence[tuple[int, int]] | None) -> bool:
    """Whether every weight / activation pair in ``choices`` is one of ``pairs``.

    Example:
        >>> allows({'b.weight_bits': 4, 'b.act_bits': 8}, ((8, 8), (16, 16)))
        False
    """
    return tie_bits(choices, pairs) == dict(choices)
