"""The shared Hessian machinery: 2/n X^T X of linear and conv inputs, the damped inverse Cholesky
factor, block discovery and the block-by-block driver."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from razor_ext.hessian import (HessianAccumulator, damped_inverse_cholesky, find_blocks,
                               sequential_calibrate)


def test_linear_hessian_is_mean_outer_product_over_calls():
    acc = HessianAccumulator(nn.Linear(6, 3))
    xs = [torch.randn(4, 5, 6), torch.randn(7, 6)]
    for x in xs:
        acc.add(x)
    flat = torch.cat([x.reshape(-1, 6) for x in xs])
    torch.testing.assert_close(acc.hessian, 2 * flat.t() @ flat / flat.shape[0])
    assert acc.samples == 27


def test_conv_hessian_uses_unfolded_patches():
    conv = nn.Conv2d(3, 4, 3, padding=1, stride=2)
    acc = HessianAccumulator(conv)
    x = torch.randn(2, 3, 7, 7)
    acc.add(x)
    cols = nn.functional.unfold(x, 3, padding=1, stride=2).permute(1, 0, 2).flatten(1)
    torch.testing.assert_close(acc.hessian, 2 * cols @ cols.t() / cols.shape[1])
    with pytest.raises(ValueError, match="groups"):
        HessianAccumulator(nn.Conv2d(4, 4, 3, groups=2))


def test_damped_inverse_cholesky_factor_and_dead_columns():
    x = torch.randn(64, 5)
    h = 2 * x.t() @ x / 64
    h[2, :] = 0
    h[:, 2] = 0
    u, dead = damped_inverse_cholesky(h, 0.01)
    assert dead.tolist() == [False, False, True, False, False]
    hd = h.clone()
    hd[2, 2] = 1
    hd += 0.01 * torch.diagonal(hd).mean() * torch.eye(5)
    torch.testing.assert_close(u.t() @ u, torch.linalg.inv(hd), rtol=1e-4, atol=1e-5)
    assert torch.equal(u, torch.triu(u))
    with pytest.raises(ValueError, match="percdamp"):
        damped_inverse_cholesky(h, -1.0)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, h, scale=1.0):
        return (h + self.fc(h) * scale,)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(4, 8)
        self.layers = nn.ModuleList([Block() for _ in range(3)])
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        h = self.embed(x)
        for layer in self.layers:
            h = layer(h, scale=0.5)[0]
        return self.head(h)


def test_block_driver_feeds_each_block_the_previous_compressed_output():
    torch.manual_seed(0)
    net = Net()
    assert find_blocks(net)[0] == "layers"
    batches = [torch.randn(5, 4), torch.randn(3, 4)]
    seen = {}

    def zero_layer(name, layer, hessian):
        seen[name] = hessian.clone()
        layer.weight.data.zero_()  # a compressed block is then the identity
        layer.bias.data.zero_()
        return layer

    sequential_calibrate(net, batches, zero_layer)
    assert list(seen) == ["layers.0.fc", "layers.1.fc", "layers.2.fc"]
    # Blocks 1 and 2 saw block 0's compressed (identity) output: the embeddings themselves.
    h = torch.cat([net.embed(b) for b in batches]).detach()
    torch.testing.assert_close(seen["layers.1.fc"], 2 * h.t() @ h / h.shape[0])
    torch.testing.assert_close(seen["layers.2.fc"], seen["layers.1.fc"])
    with pytest.raises(ValueError, match="empty"):
        sequential_calibrate(net, [], zero_layer)
