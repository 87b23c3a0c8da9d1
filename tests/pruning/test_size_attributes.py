"""Size attributes found from the trace, the automatic fallback, and check errors that name the
module (issue 26)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from razor_ext.pruning import PruningCheckError, analyze, load_pruned, prune, save_pruned
from razor_ext.pruning.check import check_pruned
from tests.pruning import zoo

IMG = torch.randn(2, 3, 32, 32)
IDS = torch.randint(0, 96, (2, 10))


def _pruned(builder, x, **kw):
    torch.manual_seed(0)
    model = builder().eval()
    return model, prune(model, x, ratio=0.5, **kw)


@pytest.mark.parametrize('tracer', ['fx', 'autograd'])
def test_vit_hidden_dim_attribute_follows_the_pruned_width(tracer):
    model, p = _pruned(zoo.HiddenDimViT, IMG, tracer=tracer)
    assert p.hidden_dim == p.conv_proj.out_channels == 24 and model.hidden_dim == 48
    assert p.layers[0].self_attention.num_heads == 2
    torch.testing.assert_close(p(IMG).shape, model(IMG).shape)


def test_functional_swin_num_heads_and_maxvit_heads_are_updated():
    _, swin = _pruned(zoo.FunctionalSwin, IMG)
    # 3 heads of 12 -> the qkv rows of the kept heads; num_heads follows
    assert swin.attn.num_heads * 12 * 3 == swin.attn.qkv.out_features
    assert swin.attn.num_heads < 3
    _, maxvit = _pruned(zoo.MaxViTNet, IMG)
    for blk in (maxvit.block, maxvit.grid):
        assert blk.attn.n_heads == 2 and blk.attn.head_dim == 8
        assert blk.attn.merge.in_features == 16
        assert blk.attn.relative_position_bias_table.shape[1] == 2


def test_head_dim_not_hidden_over_heads_and_gpt2_conv1d():
    model, p = _pruned(zoo.HeadDimLM, IDS)
    attn = p.blocks[0]['attn']
    assert (attn.num_heads, attn.head_dim) == (2, 12) and attn.q_proj.out_features == 24
    assert p.lm_head.weight is p.embed.weight  # tied embeddings stay tied
    model, g = _pruned(zoo.GPT2Like, IDS)
    a = g.h[0].attn
    assert a.c_attn.weight.shape == (24, 72) and a.c_attn.nf == 72
    assert a.split_size == 24 and a.num_heads == 2 and a.head_dim == 12
    assert g.h[0].c_fc.nf == g.h[0].c_fc.weight.shape[1] == 96
    assert g(IDS).shape == model(IDS).shape


def test_gpt2_conv1d_prunes_like_zeroing_its_mlp():
    """Conv1D understood as a linear layer stored [in, out]: pruning the MLP's hidden channels
    equals zeroing them (everything else kept whole with ``ignored``)."""
    torch.manual_seed(0)
    model = zoo.GPT2Like().eval()
    keep_out = ['wte', 'h.0.attn', 'h.1.attn']
    p = prune(model, IDS, ratio=0.5, ignored=keep_out, importance='l2')
    masked = zoo.GPT2Like().eval()
    masked.load_state_dict(model.state_dict())
    with torch.no_grad():
        for i, blk in enumerate(masked.h):
            kept = set(map(tuple, p.h[i].c_fc.weight.T.tolist()))
            cols = blk.c_fc.weight.T.tolist()
            drop = [j for j, c in enumerate(cols) if tuple(c) not in kept]
            assert len(drop) == 96
            blk.c_fc.weight[:, drop] = 0
            blk.c_fc.bias[drop] = 0
            blk.c_proj.weight[drop] = 0
    # gelu(0) == 0, so the zeroed channels contribute nothing
    torch.testing.assert_close(p(IDS), masked(IDS), rtol=1e-5, atol=1e-5)


def test_untraceable_size_keeps_its_unit_whole_and_says_so():
    model = zoo.UntraceableSize()
    text = analyze(model, torch.randn(2, 16)).report()
    assert 'kept      fc1_(0, 40)_40' in text
    assert 'size 5 of dim 1 is neither a size read from a tensor nor an attribute' in text
    p = prune(model, torch.randn(2, 16), ratio=0.5)
    assert p.fc1.out_features == 40 and p.fc0.out_features == 12
    assert 'size 5 of dim 1' in p.pruning_report.report()


class _Heads(nn.Module):
    """Heads counted by ``self.groups`` (the trace binds it by value), but the forward reads the
    literal list ``self.shape``: pruned heads break this module."""

    def __init__(self) -> None:
        super().__init__()
        self.groups, self.shape = 2, [2, 4]
        self.q = nn.Linear(8, 8)
        self.o = nn.Linear(8, 8)

    def forward(self, x):
        b, t, _ = x.shape
        h = self.q(x).view(b, t, *self.shape).transpose(1, 2)
        h = torch.nn.functional.scaled_dot_product_attention(h, h, h)
        return self.o(h.transpose(1, 2).reshape(b, t, -1))


class _Misleading(nn.Module):
    def __init__(self, mlp: bool) -> None:
        super().__init__()
        self.attn = _Heads()
        self.mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8)) if mlp else None

    def forward(self, x):
        y = self.attn(x)
        return y if self.mlp is None else y + self.mlp(y)


def test_fallback_keeps_the_failing_module_whole_and_prunes_the_rest():
    x = torch.randn(2, 3, 8)
    model = _Misleading(mlp=True).eval()
    assert len(analyze(model, x).prunable_units) == 2  # the heads of q and the MLP
    p = prune(model, x, ratio=0.5)
    assert p.attn.q.out_features == 8 and p.attn.groups == 2  # kept whole, attribute untouched
    assert p.mlp[0].out_features == 8
    text = p.pruning_report.report()
    assert "kept whole after the pruned model failed its check: the pruned model fails in " \
           "module 'attn' (_Heads)" in text
    assert p(x).shape == model(x).shape


def test_nothing_prunable_after_fallback_raises_naming_module_and_class():
    with pytest.raises(PruningCheckError, match=r"nothing can be pruned: .*'attn' \(_Heads\)"):
        prune(_Misleading(mlp=False), torch.randn(2, 3, 8), ratio=0.5)


def test_check_error_names_the_first_module_and_its_class():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = torch.randn(3, 4)
    a = analyze(model, x).analysis
    broken = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    broken[0] = nn.Linear(4, 6)  # the plan removes nothing, the model gives 6 channels
    with pytest.raises(PruningCheckError, match=r"module '0' \(Linear\) of the pruned model") as e:
        check_pruned(broken, x, a, np.zeros(a.resolved.final.size, bool))
    assert e.value.module == '0'
    broken[0] = nn.Linear(4, 8)
    broken[2] = nn.Linear(7, 2)  # raises inside module '2'
    with pytest.raises(PruningCheckError, match=r"fails in module '2' \(Linear\)"):
        check_pruned(broken, x, a, np.zeros(a.resolved.final.size, bool))


def test_traced_attribute_changes_replay_through_load_pruned(tmp_path):
    model, p = _pruned(zoo.HiddenDimViT, IMG)
    save_pruned(p, tmp_path / 'p.pt')
    torch.manual_seed(0)
    fresh = load_pruned(zoo.HiddenDimViT().eval(), tmp_path / 'p.pt')
    assert fresh.hidden_dim == 24
    torch.testing.assert_close(fresh(IMG), p(IMG), rtol=0, atol=0)


def test_einsum_couples_shared_letters_and_contracts_channels():
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(8, 16), nn.Linear(16, 4)

        def forward(self, x):
            h = torch.relu(self.a(x))
            return torch.einsum('nc,oc->no', h, self.b.weight) + self.b.bias

    model, x = Head(), torch.randn(3, 8)
    p = prune(model, x, 0.5)
    assert p.a.out_features == 8 and p.b.weight.shape == (4, 8)
    # equal to the original with the removed hidden channels zeroed
    kept = {tuple(r) for r in p.a.weight.tolist()}
    drop = [i for i, r in enumerate(model.a.weight.tolist()) if tuple(r) not in kept]
    with torch.no_grad():
        model.b.weight[:, drop] = 0
        torch.testing.assert_close(p(x), model(x))
