"""Pruning ``nn.MultiheadAttention``: whole heads (and the residual width) go; the pruned module
keeps torch's interface and numbers."""
from __future__ import annotations

import copy
import inspect

import pytest
import torch
from torch import nn

from razor_ext.pruning import ChannelMutator
from razor_ext.analysis import layer_rules
from razor_ext.pruning import analyze, flops_of, load_pruned, prune, save_pruned
from razor_ext.pruning.attention import PrunedMultiheadAttention, pruned_multi_head_attention_forward
from tests.pruning import zoo
from tests.pruning.masked_reference import masked_reference

E, H = 16, 4  # head_dim 4

VARIANTS = {
    'default': {},
    'no_bias': dict(bias=False),
    'bias_kv': dict(add_bias_kv=True),
    'zero_attn': dict(add_zero_attn=True),
    'seq_first': dict(batch_first=False),
    'kdim_vdim': dict(kdim=6, vdim=10),
}


def _mha(**kw) -> nn.MultiheadAttention:
    kw = {'batch_first': True, **kw}
    m = nn.MultiheadAttention(E, H, **kw)
    with torch.no_grad():  # torch zero-initialises the biases: make them matter
        for name, p in m.named_parameters():
            if 'bias' in name:
                p.uniform_(-0.5, 0.5)
    return m


class HeadsOnly(nn.Module):
    """The query is the model input and the output its width: only whole heads can go."""

    def __init__(self, **kw) -> None:
        super().__init__()
        self.cross = 'kdim' in kw
        self.attn = _mha(**kw)

    def forward(self, x, memory=None):
        if self.cross:
            k, v = memory[..., :6], memory
            return self.attn(x, k, v, need_weights=False)[0]
        return self.attn(x, x, x, need_weights=False)[0]


def _inputs(model: HeadsOnly):
    torch.manual_seed(1)
    seq_first = not model.attn.batch_first
    x = torch.randn(5, 2, E) if seq_first else torch.randn(2, 5, E)
    return (x, torch.randn(2, 7, 10)) if model.cross else x


@pytest.mark.parametrize('variant', list(VARIANTS))
def test_pruned_heads_equal_the_original_with_those_heads_zeroed(variant):
    torch.manual_seed(0)
    model = HeadsOnly(**VARIANTS[variant]).eval()
    x = _inputs(model)
    report = analyze(model, x)
    units = report.prunable_units
    assert len(units) == 1 and units[0].num_atoms == H  # whole heads
    assert units[0].divisor % (E // H) == 0
    assert 'every head keeps head_dim' in report.report()
    pruned = prune(model, x, ratio=0.5)
    attn = pruned.attn
    assert type(attn) is PrunedMultiheadAttention and isinstance(attn, nn.MultiheadAttention)
    assert (attn.num_heads, attn.head_dim, attn.embed_dim) == (2, 4, E)
    assert attn.out_proj.in_features == 8
    with torch.no_grad():
        args = x if isinstance(x, tuple) else (x,)
        reference, changed = masked_reference(model, pruned)  # independent of the library's selection
        assert changed
        want = reference(*args)
        torch.testing.assert_close(pruned(*args), want, rtol=1e-5, atol=1e-5)
    assert flops_of(pruned, x) < flops_of(model, x)


def _as_pruned_class(m: nn.MultiheadAttention) -> nn.MultiheadAttention:
    out = copy.deepcopy(m)
    out.__class__ = PrunedMultiheadAttention
    return out


@pytest.mark.parametrize('variant', list(VARIANTS))
@pytest.mark.parametrize('need_weights,average', [(False, True), (True, True), (True, False)])
def test_pruned_class_computes_what_torch_computes(variant, need_weights, average):
    torch.manual_seed(0)
    ref = _mha(**VARIANTS[variant])
    ours = _as_pruned_class(ref)
    seq_first = not ref.batch_first
    n, tgt, src = 3, 5, 7
    q = torch.randn(tgt, n, E) if seq_first else torch.randn(n, tgt, E)
    kv_shape = (src, n) if seq_first else (n, src)
    k = torch.randn(*kv_shape, ref.kdim)
    v = torch.randn(*kv_shape, ref.vdim)
    pad = torch.zeros(n, src, dtype=torch.bool)
    pad[0, -2:] = True
    bool_mask = torch.triu(torch.ones(tgt, src, dtype=torch.bool), diagonal=3)
    float_mask = torch.randn(n * H, tgt, src)
    float_pad = torch.zeros(n, src).masked_fill(pad, float('-inf'))
    for kwargs in ({}, dict(key_padding_mask=pad), dict(attn_mask=bool_mask),
                   dict(attn_mask=float_mask, key_padding_mask=float_pad)):
        for training in (False, True):
            ref.train(training)
            ours.train(training)
            want = ref(q, k, v, need_weights=need_weights, average_attn_weights=average, **kwargs)
            got = ours(q, k, v, need_weights=need_weights, average_attn_weights=average, **kwargs)
            torch.testing.assert_close(got[0], want[0], rtol=1e-5, atol=1e-5)
            if need_weights:
                torch.testing.assert_close(got[1], want[1], rtol=1e-5, atol=1e-5)
            else:
                assert got[1] is None and want[1] is None


def test_unbatched_input_and_gradients_match_torch():
    torch.manual_seed(0)
    ref = _mha()
    ours = _as_pruned_class(ref)
    x = torch.randn(5, E, requires_grad=True)
    out_ref, w_ref = ref(x, x, x)
    out, w = ours(x, x, x)
    torch.testing.assert_close(out, out_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(w, w_ref, rtol=1e-5, atol=1e-5)
    g_ref = torch.autograd.grad(out_ref.square().sum(), [x, ref.in_proj_weight])
    g = torch.autograd.grad(out.square().sum(), [x, ours.in_proj_weight])
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_residual_width_and_heads_both_pruned_reload_and_prune_again(tmp_path):
    torch.manual_seed(0)
    model = zoo.TorchMHAViT().eval()
    x = torch.randn(2, 3, 32, 32)
    pruned = prune(model, x, ratio=0.3)
    attn = pruned.blocks[0].attn
    assert attn.embed_dim == pruned.patch_embed.out_channels < 32
    assert attn.num_heads == 3 and attn.head_dim == 8
    assert attn.in_proj_weight.shape == (3 * 24, attn.embed_dim)
    save_pruned(pruned, tmp_path / 'p.pt')
    loaded = load_pruned(zoo.TorchMHAViT().eval(), tmp_path / 'p.pt')
    assert type(loaded.blocks[0].attn) is PrunedMultiheadAttention
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), pruned(x), rtol=0, atol=0)
    # The pruned module is analysed through its own attention function: heads go again.
    again = prune(pruned, x, ratio=0.5)
    assert again.blocks[0].attn.num_heads < attn.num_heads
    assert again(x).shape == (2, 10)


def test_transformer_encoder_fast_paths_are_off_after_pruning():
    torch.manual_seed(0)
    model = zoo.TorchEncoderNet().eval()
    x = torch.randn(2, 3, 32, 32)
    pruned = prune(model, x, ratio=0.3)  # 23 residual channels, 3 heads of 8
    assert pruned.encoder.use_nested_tensor is False
    layer = pruned.encoder.layers[0]
    assert (layer.self_attn.num_heads, layer.self_attn.embed_dim) == (3, 23)
    assert layer.self_attn._qkv_same_embed_dim is False
    tokens = pruned.patch_embed(x).flatten(2).transpose(1, 2).detach()
    pad = torch.zeros(2, tokens.shape[1], dtype=torch.bool)
    pad[1, -3:] = True
    slow = pruned.encoder(tokens, src_key_padding_mask=pad)  # grad enabled: no fused path
    with torch.no_grad():  # eval + no grad: torch would take its fused / nested-tensor paths
        fast = pruned.encoder(tokens, src_key_padding_mask=pad)
    assert not fast.is_nested
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)


def test_masked_heads_through_the_channel_mutator_equal_the_static_model():
    torch.manual_seed(0)
    model = HeadsOnly().eval()
    x = torch.randn(2, 5, E)
    mut = ChannelMutator()
    mut.prepare_from_supernet(model, x)
    (unit,) = mut.units
    mut.set_choices({unit.name: 0.5})
    static = mut.to_static()
    assert static.attn.num_heads == 2
    torch.testing.assert_close(static(x), model(x), rtol=1e-5, atol=1e-5)


def test_a_three_dim_mask_for_the_old_head_count_is_a_clear_error():
    model = HeadsOnly().eval()
    x = torch.randn(2, 5, E)
    pruned = prune(model, x, ratio=0.5)
    with pytest.raises(ValueError, match=r'attn_mask .* batch \* num_heads = 2 \* 2'):
        pruned.attn(x, x, x, attn_mask=torch.zeros(2 * H, 5, 5))


def test_rule_argument_names_follow_the_function():
    names = tuple(inspect.signature(pruned_multi_head_attention_forward).parameters)
    assert layer_rules._PRUNED_MHA_ARGS == names
