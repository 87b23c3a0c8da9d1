"""An independent reference for a pruned model: which channels survived is read back from the
pruned weights themselves (each pruned value is found in the original tensor of the same name),
and the original model is then run with every removed channel zeroed. Nothing here calls the
library's analysis, importance, selection or gather code.

Zeroing a removed channel is exact for units behind an activation with f(0) = 0 (conv channels
behind BN, MLP intermediate units, whole attention heads: q, k and v of a head all zero give a
zero head output through any softmax). It is not exact for a normalisation over the pruned
hidden dimension (LayerNorm's mean and variance, RMSNorm's mean square change with the channel
count), so each such norm whose weight was pruned is swapped for a re-implementation, written
here, that takes its statistics over the kept channels only and outputs zero on the others.
"""
from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


def make_distinct_(model: nn.Module) -> None:
    """Make every parameter's values distinct within its tensor, so each pruned value can be
    matched back to one place (constant inits such as LayerNorm's ones would be ambiguous).
    The k-th smallest value moves up by k steps of two float32 ulps at the tensor's largest
    magnitude: order is kept and the change is at most ``numel * 2.4e-7 * max|w|``."""
    with torch.no_grad():
        for p in model.parameters():
            flat = p.detach().flatten().double()
            order = flat.argsort()
            step = 2 * torch.finfo(torch.float32).eps * float(flat.abs().max().clamp_min(1e-3))
            flat[order] += step * torch.arange(flat.numel(), dtype=torch.float64)
            p.copy_(flat.view_as(p).to(p.dtype))
            assert p.flatten().unique().numel() == p.numel(), 'duplicate values remain'


def kept_indices(original: Tensor, pruned: Tensor) -> list[Tensor]:
    """For each dim of ``original`` (any shape), the indices along it that ``pruned`` keeps, in
    the pruned order. Each pruned value is located in the original by exact value; the
    coordinates found must form a sub-grid (one index per pruned position along every dim),
    otherwise the pruned tensor is not a slice of the original and an AssertionError says so.

    >>> w = torch.randn(4, 3); kept_indices(w, w[[0, 2]][:, [1]])
    [tensor([0, 2]), tensor([1])]
    """
    assert original.dim() == pruned.dim(), (original.shape, pruned.shape)
    flat = original.detach().flatten()
    order = flat.argsort()
    sorted_vals = flat[order]
    want = pruned.detach().flatten()
    pos = torch.searchsorted(sorted_vals, want).clamp_max(flat.numel() - 1)
    assert torch.equal(sorted_vals[pos], want), 'a pruned value is not in the original tensor'
    coords = torch.stack(torch.unravel_index(order[pos], original.shape), -1)
    coords = coords.reshape(*pruned.shape, original.dim())
    kept = []
    for d in range(original.dim()):
        along = coords[..., d].movedim(d, 0).reshape(pruned.shape[d], -1)
        assert (along == along[:, :1]).all(), f'dim {d}: not a sub-grid of the original'
        kept.append(along[:, 0].clone())
    return kept


class MaskedLayerNorm(nn.LayerNorm):
    """LayerNorm over the last dim whose statistics use only ``kept`` channels; removed channels
    output zero. Stays an ``nn.LayerNorm`` (weight, bias, eps) so modules that inspect their
    norms (``nn.TransformerEncoderLayer``) accept it."""

    def __init__(self, norm: nn.LayerNorm, kept: Tensor) -> None:
        super().__init__(norm.normalized_shape, norm.eps, norm.elementwise_affine)
        self.load_state_dict(norm.state_dict())
        self.register_buffer('kept', kept)

    def forward(self, x: Tensor) -> Tensor:
        xs = x[..., self.kept]
        mean = xs.mean(-1, keepdim=True)
        var = ((xs - mean) ** 2).mean(-1, keepdim=True)
        y = (xs - mean) / torch.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight[self.kept] + self.bias[self.kept]
        out = torch.zeros_like(x)
        out[..., self.kept] = y
        return out


class MaskedRMSNorm(nn.Module):
    """RMSNorm (``weight * x / sqrt(mean(x^2) + eps)``) with the mean over ``kept`` only."""

    def __init__(self, norm: nn.Module, kept: Tensor) -> None:
        super().__init__()
        self.weight, self.eps = norm.weight, norm.eps
        self.register_buffer('kept', kept)

    def forward(self, x: Tensor) -> Tensor:
        xs = x[..., self.kept]
        y = self.weight[self.kept] * xs / torch.sqrt(xs.pow(2).mean(-1, keepdim=True) + self.eps)
        out = torch.zeros_like(x)
        out[..., self.kept] = y
        return out


def masked_reference(original: nn.Module, pruned: nn.Module) -> tuple[nn.Module, int]:
    """A copy of ``original`` with every entry the pruned model dropped set to zero, and each
    norm over a pruned dim replaced by its masked re-implementation. Returns the copy and the
    number of parameters whose shape changed (so a test can insist something was pruned)."""
    ref = copy.deepcopy(original)
    pruned_params = dict(pruned.named_parameters())
    kept_of: dict[str, list[Tensor]] = {}
    with torch.no_grad():
        for name, p in ref.named_parameters():
            q = pruned_params[name]
            if q.shape == p.shape:
                assert torch.equal(q, p), f'{name}: same shape but values changed'
                continue
            kept_of[name] = kept = kept_indices(p, q)
            keep = torch.ones(p.shape, dtype=torch.bool)
            for d, k in enumerate(kept):
                along = torch.zeros(p.shape[d], dtype=torch.bool)
                along[k] = True
                shape = [1] * p.dim()
                shape[d] = -1
                keep &= along.view(shape)
            p.mul_(keep)
    for mod_name, mod in list(ref.named_modules()):
        key = f'{mod_name}.weight' if mod_name else 'weight'
        # BN is exact under zeroing (zero scale and shift give zero output)
        if (key not in kept_of or not hasattr(mod, 'eps')
                or isinstance(mod, nn.modules.batchnorm._BatchNorm)):
            continue
        kept = kept_of[key][-1]
        if isinstance(mod, nn.LayerNorm):
            masked = MaskedLayerNorm(mod, kept)
        elif 'RMS' in type(mod).__name__:
            masked = MaskedRMSNorm(mod, kept)
        else:
            raise NotImplementedError(f'{mod_name}: no masked reference for {type(mod).__name__}')
        parent_name, _, child = mod_name.rpartition('.')
        setattr(ref.get_submodule(parent_name), child, masked)
    return ref, len(kept_of)
