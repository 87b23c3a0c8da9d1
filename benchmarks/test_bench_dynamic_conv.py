"""dynamic_conv2d and dynamic_linear forward + backward at 50% width, against the static op of
the same sub-shape (the floor) and eager slicing, round robin in one run (2 threads).

Layers are ResNet-50-like: 512ch 7x7 3x3, 256ch 14x14 3x3, 64ch 56x56 1x1, each run at half its
input and output channels, batch 1, 8 and 32. Roles, each one forward and ``autograd.grad`` to the
input and the weight:
- ours: ``dynamic_conv2d(x, W, out_channels=C/2)`` on the full ``W``;
- eager: ``conv2d(x, W[:C/2, :C/2].contiguous())`` (the slice's backward scatters into zeros);
- floor: ``conv2d(x, W_sub)`` on a contiguous weight of the sub-shape (what a static subnet runs);
- alloc floor: the floor plus allocating a zeroed full-size weight gradient, the least any op
  that hands the full weight its gradient must add (3/4 of it is zeros at 50% width);
- contract floor: the alloc floor with the static conv run on a fresh contiguous copy of the
  active block, since ATen's CPU conv backend (oneDNN) takes only a contiguous weight: the least
  an op built on ATen's conv pays under that contract. Printed as ``ours / contract floor``.
dynamic_linear: a 1024x1024 layer at 512x512 on 1, 8 and 32 x 197 tokens, same roles.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from razor_ext.ops import dynamic_conv2d, dynamic_linear, reference

LAYERS = {"512ch 7x7 3x3": (512, 7, 3), "256ch 14x14 3x3": (256, 14, 3),
          "64ch 56x56 1x1": (64, 56, 1)}
BATCHES = [1, 8, 32]


@pytest.fixture(scope="module", autouse=True)
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def fwd_bwd(forward, params, grad):
    def run():
        return torch.autograd.grad(forward(), params, grad)

    return run


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_dynamic_conv2d_half_width(paired, paired_ratio, layer, batch):
    channels, hw, k = LAYERS[layer]
    half, pad = channels // 2, k // 2
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(channels, channels, k, k, generator=g, requires_grad=True)
    w_sub = weight.detach()[:half, :half].contiguous().requires_grad_()
    x = torch.randn(batch, half, hw, hw, generator=g, requires_grad=True)
    grad = torch.randn(batch, half, hw, hw, generator=g)

    ours = fwd_bwd(lambda: dynamic_conv2d(x, weight, out_channels=half, padding=pad), [x, weight],
                   grad)
    eager = fwd_bwd(lambda: F.conv2d(x, weight[:half, :half].contiguous(), padding=pad),
                    [x, weight], grad)
    floor = fwd_bwd(lambda: F.conv2d(x, w_sub, padding=pad), [x, w_sub], grad)

    def alloc_floor():
        return floor(), torch.zeros_like(weight)

    def contract_floor():
        block = weight.detach()[:half, :half].contiguous().requires_grad_()
        grads = torch.autograd.grad(F.conv2d(x, block, padding=pad), [x, block], grad)
        return grads, torch.zeros_like(weight)

    # A smoke check that the roles compute the same thing (the tests cover correctness).
    got, expected = ours(), eager()
    torch.testing.assert_close(got[1], expected[1], rtol=1e-3, atol=1e-2)
    group = f"dynamic_conv2d {layer} b{batch}"
    paired(group, {"ours": ours, "eager": eager, "floor": floor, "alloc floor": alloc_floor,
                   "contract floor": contract_floor})
    pairs = (("ours", "floor"), ("ours", "contract floor"), ("contract floor", "floor"))
    ratios = [(a, b, paired_ratio(group, a, b)) for a, b in pairs]
    if ratios[0][2] is not None:  # None under --benchmark-disable
        print(f"\n{group}: " + "; ".join(f"{a} / {b} = {r}" for a, b, r in ratios))


@pytest.mark.parametrize("batch", BATCHES)
def test_dynamic_linear_half_width(paired, batch):
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(1024, 1024, generator=g, requires_grad=True)
    bias = torch.randn(1024, generator=g, requires_grad=True)
    w_sub = weight.detach()[:512, :512].contiguous().requires_grad_()
    b_sub = bias.detach()[:512].contiguous().requires_grad_()
    x = torch.randn(batch, 197, 512, generator=g, requires_grad=True)
    grad = torch.randn(batch, 197, 512, generator=g)

    ours = fwd_bwd(lambda: dynamic_linear(x, weight, bias, 512), [x, weight, bias], grad)
    eager = fwd_bwd(lambda: reference.dynamic_linear(x, weight, bias, 512), [x, weight, bias],
                    grad)
    floor = fwd_bwd(lambda: F.linear(x, w_sub, b_sub), [x, w_sub, b_sub], grad)

    def alloc_floor():
        return floor(), torch.zeros_like(weight), torch.zeros_like(bias)

    got, expected = ours(), eager()
    torch.testing.assert_close(got[1], expected[1], rtol=1e-3, atol=1e-2)
    paired(f"dynamic_linear 1024->512 b{batch}x197",
           {"ours": ours, "eager": eager, "floor": floor, "alloc floor": alloc_floor})
