"""Hugging Face transformers models (random weights, built from configs, no download): they
prune, and a uniform pruning saves with ``save_pretrained`` and loads with plain
``from_pretrained`` (no razor_ext), its ``config`` carrying the new sizes."""
from __future__ import annotations

import pytest
import torch

from razor_ext.pruning import prune

T = pytest.importorskip('transformers', reason='transformers is an optional test dependency')

SMALL = dict(vocab_size=128, num_hidden_layers=2)


def _llama_head_dim():  # head_dim 32, not hidden / heads = 16
    return T.LlamaForCausalLM(T.LlamaConfig(**SMALL, hidden_size=64, intermediate_size=96,
                                            num_attention_heads=4, num_key_value_heads=2,
                                            head_dim=32))


def _gpt2():  # Conv1D layers, fused qkv
    return T.GPT2LMHeadModel(T.GPT2Config(vocab_size=128, n_layer=2, n_embd=64, n_head=4,
                                          n_positions=32, n_inner=128))


def _bert():  # encoder, pooler, token types
    return T.BertForSequenceClassification(T.BertConfig(**SMALL, hidden_size=64,
                                                        num_attention_heads=4,
                                                        intermediate_size=96))


def _qwen2():  # q/k/v biases, grouped-query attention
    return T.Qwen2ForCausalLM(T.Qwen2Config(**SMALL, hidden_size=64, intermediate_size=96,
                                            num_attention_heads=4, num_key_value_heads=2))


BUILDERS = {'llama_head_dim': _llama_head_dim, 'gpt2': _gpt2, 'bert': _bert, 'qwen2': _qwen2}


@pytest.mark.parametrize('name', list(BUILDERS))
def test_uniform_prune_saves_and_loads_with_plain_from_pretrained(name, tmp_path):
    torch.manual_seed(0)
    model = BUILDERS[name]().eval()
    ids = torch.randint(0, 128, (2, 12))
    pruned = prune(model, ids, ratio=0.5, importance='l2', uniform=True)
    before = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in pruned.parameters()) < 0.5 * before
    assert 'kept whole after' not in pruned.pruning_report.report()
    cfg = pruned.config
    assert cfg.hidden_size == 32 and cfg.num_attention_heads == 2
    pruned.save_pretrained(tmp_path)
    loaded = type(model).from_pretrained(tmp_path).eval()
    assert loaded.config.hidden_size == 32
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, pruned(ids).logits, rtol=0, atol=0)


def test_uniform_and_global_are_exclusive():
    with pytest.raises(ValueError, match='uniform'):
        prune(_gpt2(), torch.randint(0, 128, (1, 4)), 0.5, uniform=True, global_pruning=True)
