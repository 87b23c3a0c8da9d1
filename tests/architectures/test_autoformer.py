"""AutoFormer (MMRazor's ``AutoformerBackbone`` and ``Autoformer``): the iRPE attention against
a reference written the way MMRazor computes it, elastic heads / widths against the static
subnet, MMRazor's mutable names and subnet files, and the one-shot training step."""
from __future__ import annotations

import pytest
import torch

from razor_ext.architectures.ops.relpos_attention import (DynamicRelPosMultiheadAttention,
                                                          RelPosMultiheadAttention,
                                                          relative_position_index)
from razor_ext.nas import NasMutator
from razor_ext.registry import MODELS
from razor_ext.supernet.fix_subnet import load_fix_subnet
from razor_ext.supernet.mutables import OneShotMutableChannel, OneShotMutableValue

SPACE = dict(mlp_ratios=[1.0, 2.0], num_heads=[1, 2], depth=[1, 2], embed_dims=[16, 32])


def _reference_index(n: int, max_d: int) -> tuple[torch.Tensor, torch.Tensor]:
    side = int((n - 1) ** 0.5)
    rows, cols = torch.zeros(n, n, dtype=torch.long), torch.zeros(n, n, dtype=torch.long)
    for i in range(1, n):
        for j in range(1, n):
            qi, kj = i - 1, j - 1
            rows[i, j] = max(-max_d, min(max_d, kj // side - qi // side)) + max_d + 1
            cols[i, j] = max(-max_d, min(max_d, kj % side - qi % side)) + max_d + 1
    return rows, cols


def _reference_attention(attn: RelPosMultiheadAttention, x: torch.Tensor) -> torch.Tensor:
    """MMRazor's formulation (permute / reshape batched matmuls), full width."""
    b, n, _ = x.shape
    h, d = attn.num_heads, attn.head_dims
    q = attn.w_qs(x).view(b, n, h, d).transpose(1, 2)
    k = attn.w_ks(x).view(b, n, h, d).transpose(1, 2)
    v = attn.w_vs(x).view(b, n, h, d).transpose(1, 2)
    score = (q @ k.transpose(-2, -1)) * attn.scale
    r_k = attn.rel_pos_embed_k(n)
    score = score + (q.permute(2, 0, 1, 3).reshape(n, h * b, -1) @ r_k.transpose(2, 1)
                     ).transpose(1, 0).reshape(b, h, n, n) * attn.scale
    score = score.softmax(-1)
    out = (score @ v).transpose(1, 2).reshape(b, n, -1)
    r_v = attn.rel_pos_embed_v(n)
    t = score.permute(2, 0, 1, 3).reshape(n, b * h, -1)
    out = out + (t @ r_v).transpose(1, 0).reshape(b, h, n, -1).transpose(2, 1).reshape(b, n, -1)
    return attn.proj(out)


def test_relative_position_index_matches_a_brute_force_table_with_clamping():
    for n, max_d in ((10, 1), (17, 14)):  # 3x3 grid clamped at 1; 4x4 unclamped
        rows, cols = relative_position_index(n, max_d)
        want_rows, want_cols = _reference_index(n, max_d)
        assert torch.equal(rows, want_rows) and torch.equal(cols, want_cols)
    with pytest.raises(ValueError, match='square'):
        relative_position_index(7, 14)


def test_relpos_attention_matches_mmrazors_formulation_in_values_and_gradients():
    torch.manual_seed(0)
    attn = RelPosMultiheadAttention(24, 3, head_dims=8).double()
    x = torch.randn(2, 10, 24, dtype=torch.double, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out, ref = attn(x), _reference_attention(attn, x_ref)
    torch.testing.assert_close(out, ref)
    grads = torch.autograd.grad(out.square().sum(), [x, attn.rel_pos_embed_k.embeddings_table_v])
    grads_ref = torch.autograd.grad(ref.square().sum(), [x_ref, attn.rel_pos_embed_k.embeddings_table_v])
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref)


def test_dynamic_attention_runs_the_leading_heads_and_its_static_op_agrees():
    torch.manual_seed(0)
    attn = DynamicRelPosMultiheadAttention(32, 4, head_dims=8)
    heads = OneShotMutableValue([2, 4])
    attn.register_mutable_attr('num_heads', heads)
    embed = OneShotMutableChannel(32, [20, 32])
    attn.register_mutable_attr('embed_dims', embed)
    heads.current_choice, embed.current_choice = 2, 20
    x = torch.randn(2, 5, 20)
    out = attn(x)
    static = attn.to_static_op()
    assert type(static) is RelPosMultiheadAttention and static.w_qs.weight.shape == (16, 20)
    torch.testing.assert_close(static(x), out)
    torch.testing.assert_close(static(x), _reference_attention(static, x))
    out.sum().backward()
    assert attn.w_qs.weight.grad[16:].abs().sum() == 0  # heads 3 and 4 are not used
    assert attn.w_qs.weight.grad[:16, :20].abs().sum() > 0
    with pytest.raises(ValueError, match='embed_dims mutable chose 20'):
        attn(torch.randn(2, 5, 32))
    with pytest.raises(ValueError, match='num_heads'):
        attn.register_mutable_attr('num_heads', OneShotMutableValue([8]))


def _classifier():
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='SearchableImageClassifier',
        backbone=dict(type='mmrazor.AutoformerBackbone', arch_setting=SPACE, img_size=32,
                      patch_size=16),
        head=dict(type='DynamicLinearClsHead', num_classes=4, in_channels=32),
        connect_head=dict(connect_with_backbone='backbone.last_mutable')))


def test_backbone_has_mmrazors_mutable_names_and_a_subnet_file_gives_the_same_outputs():
    net = _classifier().eval()
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    assert set(mutator.search_groups) == {
        'backbone.mutable_embed_dims', 'backbone.mutable_depth',
        'backbone.blocks.0.attn.mutable_attrs.num_heads', 'backbone.blocks.0.mutable_mlp_ratios',
        'backbone.blocks.1.attn.mutable_attrs.num_heads', 'backbone.blocks.1.mutable_mlp_ratios'}
    choice = {'backbone.mutable_embed_dims': 16, 'backbone.mutable_depth': 1,
              'backbone.blocks.0.attn.mutable_attrs.num_heads': 1,
              'backbone.blocks.0.mutable_mlp_ratios': 2.0,
              'backbone.blocks.1.attn.mutable_attrs.num_heads': 2,
              'backbone.blocks.1.mutable_mlp_ratios': 1.0}
    mutator.set_choices(choice)
    x = torch.randn(2, 3, 32, 32)
    want = net(x)
    # MMRazor's files also carry derived values (middle_channels, q_embed_dims): skipped
    subnet = {**{k: {'chosen': v} for k, v in choice.items()},
              'backbone.blocks.0.middle_channels': {'chosen': 32},
              'backbone.base_embed_dims': {'chosen': 64}}
    with pytest.warns(UserWarning, match='middle_channels'):
        static = load_fix_subnet(net, subnet, strict=False)
    torch.testing.assert_close(static(x), want)
    assert len(static.backbone.blocks) == 1
    block = static.backbone.blocks[0]
    assert block.fc1.weight.shape == (32, 16) and block.attn.w_qs.weight.shape == (64, 16)
    assert static.head.fc.weight.shape == (4, 16)
    with pytest.raises(ValueError, match='patches'):
        static(torch.randn(1, 3, 48, 48))


def test_autoformer_trains_one_random_subnet_per_step():
    torch.manual_seed(0)
    algo = MODELS.build(dict(type='mmrazor.Autoformer', architecture=_classifier(),
                             mutator=dict(type='mmrazor.NasMutator')))
    opt = torch.optim.SGD(algo.parameters(), lr=0.1)
    data = {'inputs': torch.randn(2, 3, 32, 32), 'data_samples': torch.tensor([0, 3])}
    seen = set()
    for _ in range(6):
        log = algo.train_step(data, opt)
        assert torch.isfinite(torch.tensor(log['loss']))
        seen.add(tuple(sorted(algo.mutator.current_choices.items())))
    assert len(seen) > 1  # a new subnet each step
