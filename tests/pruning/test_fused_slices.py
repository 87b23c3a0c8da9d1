"""Fused projections cut at fixed offsets (issue 26): Phi-3's ``qkv_proj`` sliced at
``num_attention_heads * head_dim`` and its ``gate_up_proj`` cut by ``chunk``. Whole heads (KV
groups with their query heads) are pruned, the head-count attributes that set the offsets are
updated, and the result equals the original with the removed heads' outputs zeroed."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from razor_ext.export import to_onnx
from razor_ext.pruning import analyze, flops_of, load_pruned, prune, save_pruned
from tests.pruning.zoo.fused_slices import FixedOffsetAttention, SlicedQKVLM

IDS = (2, 10)


def _ids(vocab: int = 96) -> Tensor:
    return torch.randint(0, vocab, IDS, generator=torch.Generator().manual_seed(1))


def _n(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _heads_removed_reference(model: nn.Module, pruned: nn.Module, o_proj: list[str]) -> nn.Module:
    """The original with the o_proj input columns of every removed head zeroed: heads are
    independent, so this is the original without them."""
    ref = copy.deepcopy(model)
    kept = pruned._razor_pruning_recipe['tensors']
    with torch.no_grad():
        for name in o_proj:
            w = ref.get_submodule(name).weight
            (dim, cols), = [d for d in kept[f'{name}.weight'] if d[0] == 1]
            gone = np.setdiff1d(np.arange(w.shape[1]), cols)
            w[:, torch.from_numpy(gone)] = 0
    return ref


def test_sliced_qkv_prunes_whole_heads_and_updates_the_offsets(tmp_path):
    torch.manual_seed(0)
    model, ids = SlicedQKVLM().eval(), _ids()
    report = analyze(model, ids)
    qkv = [u for u in report.prunable_units if 'qkv_proj' in u.name]
    # 2 KV groups of (2 query heads + k + v) x head_dim 12 = 48 channels each
    assert len(qkv) == 2 and all(u.num_atoms == 2 and u.divisor == 48 for u in qkv)
    pruned = prune(model, ids, ratio=0.5)
    text = pruned.pruning_report.report()
    assert 'kept whole' not in text and 'fixed offsets' not in text, text
    attn = pruned.blocks[0]['attn']
    assert (attn.num_heads, attn.num_key_value_heads, attn.head_dim) == (2, 1, 12)
    assert attn.qkv_proj.out_features == 48 and attn.o_proj.in_features == 24
    assert pruned.blocks[0]['mlp'].gate_up_proj.out_features == 40  # 20 of gate and of up
    assert _n(pruned) < _n(model) and flops_of(pruned, ids) < flops_of(model, ids)
    with torch.no_grad():
        out = pruned(ids)
    assert out.shape == model(ids).shape and torch.isfinite(out).all()
    save_pruned(pruned, tmp_path / 'p.pt')
    torch.manual_seed(0)
    loaded = load_pruned(SlicedQKVLM().eval(), tmp_path / 'p.pt')
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids), out, rtol=0, atol=0)
    to_onnx(pruned, ids, tmp_path / 'p.onnx', verify=True)


def test_sliced_qkv_equals_the_original_without_the_removed_heads():
    torch.manual_seed(0)
    model, ids = SlicedQKVLM().eval(), _ids()
    # Only heads: the residual width and the MLPs stay whole.
    keep = ['embed', 'blocks.0.mlp.gate_up_proj', 'blocks.1.mlp.gate_up_proj']
    pruned = prune(model, ids, ratio=0.5, importance='l2', ignored=keep)
    assert pruned.blocks[1]['attn'].qkv_proj.out_features == 48
    ref = _heads_removed_reference(model, pruned, ['blocks.0.attn.o_proj',
                                                   'blocks.1.attn.o_proj'])
    with torch.no_grad():
        torch.testing.assert_close(pruned(ids), ref(ids), rtol=1e-5, atol=1e-5)
        assert not torch.allclose(model(ids), ref(ids), atol=1e-3)  # heads did matter


def test_literal_offsets_keep_the_heads_whole_and_prune_the_rest():
    torch.manual_seed(0)
    model, ids = SlicedQKVLM(attention=FixedOffsetAttention).eval(), _ids()
    pruned = prune(model, ids, ratio=0.5)
    text = pruned.pruning_report.report()
    assert "kept      blocks.0.attn.qkv_proj" in text and "'blocks.0.attn.o_proj' (Linear)" in text
    assert pruned.blocks[0]['attn'].qkv_proj.out_features == 96  # heads whole
    assert pruned.embed.embedding_dim == 16  # the residual width still pruned
    with torch.no_grad():
        assert pruned(ids).shape == model(ids).shape


class _FirstHalf(nn.Module):
    """Uses only ``proj(x)[..., :8]``: a slice that is no piece of a tiling."""

    def __init__(self) -> None:
        super().__init__()
        self.proj, self.out = nn.Linear(8, 16), nn.Linear(8, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.proj(x)[..., :8])


def test_a_slice_that_does_not_tile_the_dim_keeps_it_whole():
    text = analyze(_FirstHalf(), torch.randn(2, 8)).report()
    assert 'slices a channel dim at fixed offsets (the slices do not cover it' in text


# ---------------------------------------------------------------- Hugging Face Phi-3
T = pytest.importorskip('transformers', reason='transformers is an optional test dependency')


def _phi3(kv_heads: int) -> nn.Module:
    torch.manual_seed(0)
    cfg = T.Phi3Config(vocab_size=96, num_hidden_layers=2, hidden_size=64, intermediate_size=96,
                       num_attention_heads=4, num_key_value_heads=kv_heads, pad_token_id=0,
                       bos_token_id=1, eos_token_id=2, max_position_embeddings=64)
    return T.Phi3ForCausalLM(cfg).eval()


@pytest.mark.parametrize('kv_heads', [2, 4])
def test_phi3_heads_equal_the_original_without_the_removed_heads(kv_heads):
    model, ids = _phi3(kv_heads), _ids()
    keep = ['model.embed_tokens'] + [f'model.layers.{i}.mlp.gate_up_proj' for i in range(2)]
    pruned = prune(model, ids, ratio=0.5, importance='l2', ignored=keep)
    assert 'kept whole' not in pruned.pruning_report.report()
    assert pruned.config.num_attention_heads == 2
    assert pruned.model.layers[0].self_attn.num_key_value_heads == kv_heads // 2
    ref = _heads_removed_reference(model, pruned, [f'model.layers.{i}.self_attn.o_proj'
                                                   for i in range(2)])
    with torch.no_grad():
        torch.testing.assert_close(pruned(ids).logits, ref(ids).logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kv_heads', [2, 4])
def test_phi3_uniform_prune_saves_and_loads_with_plain_from_pretrained(kv_heads, tmp_path):
    model, ids = _phi3(kv_heads), _ids()
    pruned = prune(model, ids, ratio=0.5, importance='l2', uniform=True)
    assert 'kept whole' not in pruned.pruning_report.report()
    cfg = pruned.config
    assert (cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads,
            cfg.intermediate_size) == (32, 2, kv_heads // 2, 48)
    assert _n(pruned) < 0.5 * _n(model)
    pruned.save_pretrained(tmp_path)
    loaded = T.Phi3ForCausalLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, pruned(ids).logits, rtol=0, atol=0)


class _SlicedGLU(nn.Module):
    """GLU cut by slices at half the width read from the tensor (not by ``chunk``)."""

    def __init__(self) -> None:
        super().__init__()
        self.up, self.down = nn.Linear(8, 24), nn.Linear(12, 8)

    def forward(self, x: Tensor) -> Tensor:
        h = self.up(x)
        n = h.shape[-1] // 2
        return x + self.down(h[..., :n] * torch.sigmoid(h[..., n:]))


def test_halves_of_a_read_width_lose_the_same_channel_like_chunk():
    torch.manual_seed(0)
    model, x = _SlicedGLU().eval(), torch.randn(4, 8)
    unit = [u for u in analyze(model, x).prunable_units if u.name.startswith('up')]
    assert len(unit) == 1 and unit[0].num_atoms == 12 and unit[0].divisor == 2
    pruned = prune(model, x, ratio=0.5)
    assert pruned.up.out_features == 12 and pruned.down.in_features == 6
    kept = dict(pruned._razor_pruning_recipe['tensors'])['down.weight']
    (_, cols), = [d for d in kept if d[0] == 1]
    ref = copy.deepcopy(model)
    with torch.no_grad():
        gone = torch.from_numpy(np.setdiff1d(np.arange(12), cols))
        ref.down.weight[:, gone] = 0
        torch.testing.assert_close(pruned(x), ref(x), rtol=1e-5, atol=1e-6)
