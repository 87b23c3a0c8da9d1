"""fake_quantize and lsq_fake_quantize, forward + backward on a 32x64x56x56 float32 activation
(ResNet stage 1 at batch 32), against torch's fake-quant ops, the memory floor and the peers
users compare with (NVIDIA Model Optimizer's TensorQuantizer, NNCF's quantize functions), all
round robin in one run.

Floors (bytes per element, forward + backward):
- "floor": ``y = x * 2`` and its backward ``g * 2`` (16 B): what the issue names.
- "floor same bytes" (LSQ groups): ``y = x * 2`` saving x, backward ``g * x`` (20 B): the least
  any LSQ backward can move, as it must read x and g and write dx. Our fake_quantize moves 18 B
  (its 1-byte mask written and read once), our LSQ 20 B.
Peers are timed where they import (``pip install --no-deps nvidia-modelopt nncf`` and their
small pure-Python dependencies); a missing peer is left out of the run, not failed. NNCF runs its
torch-native quantize functions (its fallback when its C++ extension is not built; we do not
JIT-compile that here).
Every role returns its gradients, computed with ``torch.autograd.grad`` (no accumulation).
"""
from __future__ import annotations

import statistics
import sys
from collections.abc import Callable

import pytest
import torch

from razor_ext.ops import fake_quantize, lsq_fake_quantize

SHAPE = (32, 64, 56, 56)
QMIN, QMAX = -128, 127
Roles = dict[str, Callable[[], object]]


def _modelopt_quantizer(axis: int | None, x: torch.Tensor):
    try:
        from modelopt.torch.quantization.config import QuantizerAttributeConfig
        from modelopt.torch.quantization.nn import TensorQuantizer
    except Exception:  # noqa: BLE001 - any import failure means: not installed here
        return None
    quantizer = TensorQuantizer(QuantizerAttributeConfig(num_bits=8, axis=axis))
    dims = tuple(d for d in range(x.dim()) if d != axis) if axis is not None else None
    quantizer.amax = x.detach().abs().amax(dims, keepdim=True) if dims else x.detach().abs().amax()
    return quantizer


def _nncf_symmetric():
    try:
        from nncf.torch.quantization.extensions import QuantizedFunctionsCPU
        from nncf.torch.quantization.quantize_functions import symmetric_quantize
        from nncf.torch.quantization.reference import ReferenceQuantizedFunctions
    except Exception:  # noqa: BLE001
        return None
    # NNCF would JIT-compile its C++ extension at first use (minutes, on a shared machine); its
    # own fallback when that fails is this torch-native path, which is what we time.
    QuantizedFunctionsCPU._loaded_namespace = ReferenceQuantizedFunctions
    return symmetric_quantize


class _SameBytesFloor(torch.autograd.Function):
    """x * 2 forward saving x, g * x backward: an LSQ-sized elementwise forward + backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x


@pytest.fixture(scope="module")
def data(request):
    torch.manual_seed(0)
    # The smoke run (--benchmark-disable) only proves every role runs: a small tensor will do.
    shape = (2, SHAPE[1], 8, 8) if request.config.getoption("benchmark_disable") else SHAPE
    x = torch.randn(shape, requires_grad=True)
    grad = torch.randn(shape)
    amax_c = x.detach().abs().amax((0, 2, 3))
    return {
        "x": x,
        "grad": grad,
        "scale": float(x.detach().abs().max()) / 127,
        "scale_c": amax_c / 127,
        "zero_c": torch.zeros(shape[1], dtype=torch.int32),
    }


def _floor(x, grad):
    return torch.autograd.grad(x * 2, x, grad)


def fake_quant_roles(data, per_channel: bool) -> Roles:
    x, grad = data["x"], data["grad"]
    if per_channel:
        scale, zero, axis = data["scale_c"], data["zero_c"], 1

        def eager():
            y = torch.fake_quantize_per_channel_affine(x, scale, zero, 1, QMIN, QMAX)
            return torch.autograd.grad(y, x, grad)
    else:
        scale, zero, axis = data["scale"], 0, None

        def eager():
            y = torch.fake_quantize_per_tensor_affine(x, scale, zero, QMIN, QMAX)
            return torch.autograd.grad(y, x, grad)

    roles: Roles = {
        "ours": lambda: torch.autograd.grad(fake_quantize(x, scale, zero, QMIN, QMAX, axis), x, grad),
        "eager": eager,
        "floor": lambda: _floor(x, grad),
    }
    quantizer = _modelopt_quantizer(axis, x)
    if quantizer is not None:
        roles["modelopt"] = lambda: torch.autograd.grad(quantizer(x), x, grad)
    symmetric_quantize = _nncf_symmetric()
    if symmetric_quantize is not None:
        nncf_scale = (scale.reshape(1, -1, 1, 1) if per_channel else torch.tensor(scale)) * 128

        def nncf():
            y = symmetric_quantize(x, 256, QMIN, QMAX, nncf_scale, 1e-16)
            return torch.autograd.grad(y, x, grad)

        roles["nncf"] = nncf
    return roles


def lsq_roles(data, per_channel: bool) -> Roles:
    x, grad = data["x"], data["grad"]
    if per_channel:
        scale = data["scale_c"].clone().requires_grad_()
        zero = torch.zeros(SHAPE[1], requires_grad=True)
        axis = 1

        def eager():
            y = torch._fake_quantize_learnable_per_channel_affine(x, scale, zero, 1, QMIN, QMAX, 1.0)
            return torch.autograd.grad(y, (x, scale, zero), grad)
    else:
        scale = torch.tensor([data["scale"]], requires_grad=True)
        zero = torch.zeros(1, requires_grad=True)
        axis = None

        def eager():
            y = torch._fake_quantize_learnable_per_tensor_affine(x, scale, zero, QMIN, QMAX, 1.0)
            return torch.autograd.grad(y, (x, scale, zero), grad)

    roles: Roles = {
        "ours": lambda: torch.autograd.grad(
            lsq_fake_quantize(x, scale, zero, QMIN, QMAX, axis), (x, scale, zero), grad),
        "eager": eager,
        "floor": lambda: _floor(x, grad),
        "floor same bytes": lambda: torch.autograd.grad(_SameBytesFloor.apply(x), x, grad),
    }
    symmetric_quantize = _nncf_symmetric()
    if symmetric_quantize is not None:
        # NNCF's trainable quantizer: gradients for x and its (learnable) scale.
        nncf_scale = (scale.detach().reshape(1, -1, 1, 1) * 128).requires_grad_()

        def nncf():
            y = symmetric_quantize(x, 256, QMIN, QMAX, nncf_scale, 1e-16)
            return torch.autograd.grad(y, (x, nncf_scale), grad)

        roles["nncf"] = nncf
    return roles


GROUPS = {
    "fake_quantize per-tensor fwd+bwd": lambda d: fake_quant_roles(d, False),
    "fake_quantize per-channel fwd+bwd": lambda d: fake_quant_roles(d, True),
    "lsq_fake_quantize per-tensor fwd+bwd": lambda d: lsq_roles(d, False),
    "lsq_fake_quantize per-channel fwd+bwd": lambda d: lsq_roles(d, True),
}


@pytest.mark.parametrize("group", list(GROUPS))
def test_round_robin(paired, data, group):
    paired(f"{group} (cpu)", GROUPS[group](data))


@pytest.mark.parametrize("group", list(GROUPS))
def test_ours_matches_torch(data, group):
    # The benchmark times what the tests prove: the same values and x-gradients as torch.
    roles = GROUPS[group](data)
    ours, eager = roles["ours"](), roles["eager"]()
    assert torch.equal(ours[0], eager[0])


EXTRA_COLUMNS = (("ours", "floor"), ("ours", "floor same bytes"), ("eager", "ours"),
                 ("modelopt", "ours"), ("nncf", "ours"))


@pytest.fixture(scope="module", autouse=True)
def peer_ratio_table(request):
    """After the module: the paired ratios the shared table has no columns for (peers, LSQ's
    same-bytes floor), written to the terminal."""
    yield
    # The conftest pytest loaded (a plain import could load a second copy with no rounds).
    harness = next((p for p in request.config.pluginmanager.get_plugins()
                    if str(getattr(p, "__file__", "")).endswith("conftest.py")
                    and hasattr(p, "_ROUNDS")), None)
    if harness is None:
        return
    rows = {g: r for g, r in harness._ROUNDS.items() if "fake_quantize" in g}
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if not rows or capture is None:
        return
    with capture.global_and_fixture_disabled():
        _write_peer_table(rows, sys.stdout)


def _write_peer_table(rows, out) -> None:
    out.write(f"\nfake-quant ratios, median (quartiles) of per-round ratios, "
              f"{torch.get_num_threads()} threads\n")
    out.write(f"{'group':<50}" + "".join(f"{f'{a} vs {b}':>26}" for a, b in EXTRA_COLUMNS) + "\n")
    for group, rounds in sorted(rows.items()):
        cells = []
        for a, b in EXTRA_COLUMNS:
            if a in rounds and b in rounds:
                ratios = [x / y for x, y in zip(rounds[a], rounds[b])]
                q1, med, q3 = statistics.quantiles(ratios, n=4)
                cells.append(f"{med:.2f}x ({q1:.2f}-{q3:.2f})")
            else:
                cells.append("-")
        out.write(f"{group:<50}" + "".join(f"{c:>26}" for c in cells) + "\n")
    out.write("median ms per role: " + "; ".join(
        f"{g.split(' fwd')[0]}: " + ", ".join(f"{r} {statistics.median(t) * 1e3:.1f}"
                                             for r, t in rounds.items())
        for g, rounds in sorted(rows.items())) + "\n")
