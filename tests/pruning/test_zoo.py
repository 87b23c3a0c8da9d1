"""Every zoo model: analyze, prune at 0.3 / 0.5 (local and global), run with the same output
structure, fewer parameters and FLOPs, outputs equal to the original with the removed channels
zeroed (an independent reference, tests/pruning/masked_reference.py: kept channels are read back
from the pruned weights, norms over a pruned hidden dim re-implemented on the kept channels),
ONNX verified in onnxruntime, save/load round trip."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from razor_ext.export import to_onnx
from razor_ext.analysis.analyzer import output_tensors
from razor_ext.pruning import analyze, flops_of, load_pruned, prune, save_pruned
from tests.pruning import zoo
from tests.pruning.masked_reference import (MaskedLayerNorm, MaskedRMSNorm, make_distinct_,
                                            masked_reference)

IMG = (2, 3, 32, 32)
# (builder, input, what the numeric check against the zeroed original covers). "BN": conv channels
# behind BN, zeroing exact. "hidden": the residual width, its LayerNorm/RMSNorm re-implemented on
# the kept channels. "heads": whole heads (q, k, v rows, output columns, per-head tables) zeroed.
# "mlp": MLP intermediate units zeroed.
CASES = {
    'resnet_basic': (zoo.ResNetBasic, IMG, 'BN'),
    'resnet_bottleneck': (lambda: __import__('razor_ext.architectures.resnet', fromlist=['x'])
                          .ResNet(depths=(1, 1, 1, 1), base_width=8, num_classes=10), IMG, 'BN'),
    'mobilenet_v2': (zoo.MobileNetV2, IMG, 'BN'),
    'mobilenet_v3_se': (zoo.MobileNetV3, IMG, 'BN + SE units'),
    'efficientnet': (zoo.EfficientNetNet, IMG, 'BN + SE units'),
    'densenet': (zoo.DenseNet, IMG, 'BN through concats'),
    'shufflenet_v2': (zoo.ShuffleNetV2, IMG, 'BN through channel shuffle'),
    'regnet': (zoo.RegNet, IMG, 'BN, grouped convs'),
    'convnext': (zoo.ConvNeXtNet, IMG, 'hidden (channels-last LN, layer scale) + mlp'),
    'unet': (zoo.UNet, IMG, 'BN through skip concats'),
    'dict_output': (zoo.DictOutputNet, IMG, 'BN, dict outputs'),
    'vit': (zoo.ViT, IMG, 'hidden (cls token, pos embed) + heads (fused qkv) + mlp'),
    'swin': (zoo.SwinNet, IMG, 'hidden + heads (bias table) + mlp'),
    'vit_torch_mha': (zoo.TorchMHAViT, IMG, 'hidden + heads (nn.MultiheadAttention) + mlp'),
    'torch_transformer_encoder': (zoo.TorchEncoderNet, IMG,
                                  'hidden (post-norm) + heads + mlp'),
    'llm_untied': (lambda: zoo.TinyLlama(zoo.TinyLlamaConfig()), 'ids',
                   'hidden (RMSNorm) + heads (kv groups) + mlp (SwiGLU)'),
    'llm_tied': (lambda: zoo.TinyLlama(zoo.TinyLlamaConfig(tie_word_embeddings=True)), 'ids',
                 'hidden (RMSNorm, tied head) + heads (kv groups) + mlp'),
    # forwards that read sizes from attributes (issue 26)
    'vit_hidden_dim_attr': (zoo.HiddenDimViT, IMG, 'hidden + heads + mlp'),
    'swin_functional_num_heads': (zoo.FunctionalSwin, IMG, 'hidden + heads (functional) + mlp'),
    'maxvit_block_grid': (zoo.MaxViTNet, IMG, 'BN + hidden + heads (block, grid) + mlp'),
    'head_dim_not_hidden_over_heads': (zoo.HeadDimLM, 'ids',
                                       'hidden (RMSNorm, tied) + heads + mlp (fused)'),
    'geglu_fused_gate_up': (lambda: zoo.HeadDimLM(act='gelu'), 'ids',
                            'hidden + heads + mlp (GeGLU)'),
    'gpt2_conv1d': (zoo.GPT2Like, 'ids', 'hidden + heads (Conv1D, split) + mlp'),
    'bert_encoder_pooler': (zoo.BertLike, 'ids', 'hidden (post-norm, 3 embeddings) + heads + mlp'),
    'untraceable_size': (zoo.UntraceableSize, (2, 16), 'fc0 units only (fc1 whole)'),
}


def make(name: str):
    builder, shape, covers = CASES[name]
    torch.manual_seed(0)
    model = builder()
    for m in model.modules():  # non-trivial BN statistics, so running stats must be gathered right
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    with torch.no_grad():  # constant inits (norm scales, zero biases, cls token, layer scale)
        for p in model.parameters():  # vary, so a misplaced channel changes the output
            if p.numel() > 1 and bool((p == p.flatten()[0]).all()):
                if p.flatten()[0] != 0:
                    p.mul_(torch.empty_like(p).uniform_(0.5, 1.5))
                else:
                    p.uniform_(-0.2, 0.2)
    make_distinct_(model)  # so the reference can match each pruned value back to its place
    model.eval()
    x = torch.randint(0, 96, (2, 10)) if shape == 'ids' else torch.randn(shape)
    return model, x, covers


def head_counts(model: torch.nn.Module) -> int:
    return sum(getattr(m, a) for m in model.modules()
               for a in ('num_heads', 'n_heads', 'num_attention_heads') if hasattr(m, a))


_FLOPS: dict[str, int] = {}  # the original's FLOPs, counted once per model


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def structure(out) -> list[tuple[str, tuple]]:
    return [(p, tuple(t.shape)) for p, t in output_tensors(out)]


@pytest.mark.parametrize('name', list(CASES))
@pytest.mark.parametrize('ratio,global_pruning', [(0.3, False), (0.5, False), (0.3, True),
                                                  (0.5, True)])
def test_prune_runs_smaller_same_structure(name, ratio, global_pruning):
    """Besides size and structure: the pruned model's outputs equal those of the original with
    every removed channel zeroed (see CASES for what each model's check covers)."""
    model, x, covers = make(name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = analyze(model, x)
    assert report.prunable_units, report.report()
    pruned = prune(model, x, ratio=ratio, global_pruning=global_pruning)
    # the input model is untouched
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with torch.no_grad():
        ref, out = model(x), pruned(x)
    assert structure(out) == structure(ref)
    assert n_params(pruned) < n_params(model)
    if name not in _FLOPS:
        _FLOPS[name] = flops_of(model, x)
    assert flops_of(pruned, x) < _FLOPS[name]
    ref, n_changed = masked_reference(model, pruned)
    assert n_changed > 0
    if 'hidden' in covers:  # the norm re-implementations are in play
        assert any(isinstance(m, (MaskedLayerNorm, MaskedRMSNorm)) for m in ref.modules())
    if 'heads' in covers and ratio == 0.5 and not global_pruning:  # whole heads went
        assert head_counts(pruned) < head_counts(model)
    # grad mode keeps nn.TransformerEncoderLayer off its fused path, which would read the
    # norms' weights directly instead of calling the masked re-implementations
    with torch.enable_grad():
        want = ref(x)
    for (_, a), (_, b) in zip(output_tensors(out), output_tensors(want)):
        # tight: the observed error is float32 summation order (< 1e-6 of the output's scale),
        # while a misplaced small tensor (a bias table's head) moves outputs by ~1e-4
        scale = float(b.abs().max().clamp_min(1.0))
        torch.testing.assert_close(a, b.detach(), rtol=1e-5, atol=2e-6 * scale)


@pytest.mark.parametrize('name', list(CASES))
def test_onnx_and_save_load_round_trip(name, tmp_path):
    model, x, _ = make(name)
    pruned = prune(model, x, ratio=0.5)
    f = tmp_path / 'p.pt'
    save_pruned(pruned, f)
    fresh, _, _ = make(name)
    loaded = load_pruned(fresh, f)
    loaded.eval()
    with torch.no_grad():
        for (_, a), (_, b) in zip(output_tensors(pruned(x)), output_tensors(loaded(x))):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    runner = _LogitsOnly(pruned) if name.startswith('llm') else pruned
    small = to_onnx(runner, x, tmp_path / 'small.onnx', verify=True)
    # The file's weights are fewer bytes than the unpruned model's float32 weights (exporting
    # the unpruned model too would double the test's time; tiny graphs are mostly structure).
    import onnx
    weights = sum(np.prod(t.dims) for t in onnx.load(str(small)).graph.initializer
                  if t.data_type == onnx.TensorProto.FLOAT)
    assert 0 < weights < n_params(model)


class _LogitsOnly(torch.nn.Module):
    """The LLM's forward without cache, logits only (what ONNX export takes)."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, ids):
        return self.lm(ids).logits


@pytest.mark.parametrize('tied', [False, True])
def test_llm_prunes_whole_kv_groups_and_generates_with_cache(tied):
    model, ids, _ = make('llm_tied' if tied else 'llm_untied')
    report = analyze(model, ids)
    text = report.report()
    assert 'head dim' in text and 'inv_freq' in text  # RoPE: head dim unprunable, said so
    attn_units = [u for u in report.prunable_units if 'q_proj' in u.name]
    assert attn_units and all(u.num_atoms == 2 and u.divisor == 32 for u in attn_units)
    pruned = prune(model, ids, ratio=0.5)
    attn = pruned.layers[0].self_attn
    assert (attn.num_heads, attn.num_key_value_heads, attn.num_key_value_groups) == (4, 1, 4)
    assert attn.q_proj.out_features == 32 and attn.k_proj.out_features == 8
    assert pruned.config.num_attention_heads == 4 and pruned.config.num_key_value_heads == 1
    assert pruned.config.hidden_size == pruned.embed_tokens.embedding_dim == 32
    if tied:
        assert pruned.lm_head.weight is pruned.embed_tokens.weight
    with_cache = pruned.generate(ids[:, :4], 6)
    assert with_cache.shape == (2, 10)
    assert torch.equal(with_cache, pruned.generate_no_cache(ids[:, :4], 6))
