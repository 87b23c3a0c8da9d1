"""Every zoo model: analyze, prune at 0.3 / 0.5 (local and global), run with the same output
structure, fewer parameters and FLOPs, equal outputs to the masked original where exact (BN nets),
ONNX verified in onnxruntime, save/load round trip."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from razor_ext.export import to_onnx
from razor_ext.analysis.analyzer import output_tensors
from razor_ext.pruning import analyze, flops_of, load_pruned, prune, save_pruned
from razor_ext.pruning.importance import atom_importance
from razor_ext.pruning.prune import select_removed
from tests.pruning import zoo

IMG = (2, 3, 32, 32)
# (builder, input, exact-under-masking: BN-only nets whose removed channels can be zeroed instead)
CASES = {
    'resnet_basic': (zoo.ResNetBasic, IMG, True),
    'resnet_bottleneck': (lambda: __import__('razor_ext.architectures.resnet', fromlist=['x'])
                          .ResNet(depths=(1, 1, 1, 1), base_width=8, num_classes=10), IMG, True),
    'mobilenet_v2': (zoo.MobileNetV2, IMG, True),
    'mobilenet_v3_se': (zoo.MobileNetV3, IMG, True),
    'efficientnet': (zoo.EfficientNetNet, IMG, True),
    'densenet': (zoo.DenseNet, IMG, True),
    'shufflenet_v2': (zoo.ShuffleNetV2, IMG, True),
    'regnet': (zoo.RegNet, IMG, True),
    'convnext': (zoo.ConvNeXtNet, IMG, False),
    'unet': (zoo.UNet, IMG, True),
    'dict_output': (zoo.DictOutputNet, IMG, True),
    'vit': (zoo.ViT, IMG, False),
    'swin': (zoo.SwinNet, IMG, False),
    'vit_torch_mha': (zoo.TorchMHAViT, IMG, False),
    'torch_transformer_encoder': (zoo.TorchEncoderNet, IMG, False),
    'llm_untied': (lambda: zoo.TinyLlama(zoo.TinyLlamaConfig()), 'ids', False),
    'llm_tied': (lambda: zoo.TinyLlama(zoo.TinyLlamaConfig(tie_word_embeddings=True)), 'ids', False),
    # forwards that read sizes from attributes (issue 26)
    'vit_hidden_dim_attr': (zoo.HiddenDimViT, IMG, False),
    'swin_functional_num_heads': (zoo.FunctionalSwin, IMG, False),
    'maxvit_block_grid': (zoo.MaxViTNet, IMG, False),
    'head_dim_not_hidden_over_heads': (zoo.HeadDimLM, 'ids', False),
    'geglu_fused_gate_up': (lambda: zoo.HeadDimLM(act='gelu'), 'ids', False),
    'gpt2_conv1d': (zoo.GPT2Like, 'ids', False),
    'bert_encoder_pooler': (zoo.BertLike, 'ids', False),
    'untraceable_size': (zoo.UntraceableSize, (2, 16), True),
}


def make(name: str):
    builder, shape, exact = CASES[name]
    torch.manual_seed(0)
    model = builder()
    for m in model.modules():  # non-trivial BN statistics, so running stats must be gathered right
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    x = torch.randint(0, 96, (2, 10)) if shape == 'ids' else torch.randn(shape)
    return model, x, exact


_FLOPS: dict[str, int] = {}  # the original's FLOPs, counted once per model


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def structure(out) -> list[tuple[str, tuple]]:
    return [(p, tuple(t.shape)) for p, t in output_tensors(out)]


def masked_copy(model, x, ratio, global_pruning):
    """The original with the channels prune() removes zeroed in every coupled tensor."""
    report = analyze(model, x)
    a = report.analysis
    removed = select_removed(a.units, atom_importance(a, model, 'l1'), ratio, global_pruning)
    mask = np.zeros(a.resolved.final.size, bool)
    mask[removed] = True
    masked = copy.deepcopy(model)
    state = dict(masked.named_parameters())
    with torch.no_grad():
        for pos, fa in zip(a.positions, a.final):
            if pos.key in state and mask[fa].any():
                idx = torch.from_numpy(np.nonzero(mask[fa])[0])
                state[pos.key].index_fill_(pos.dim, idx, 0.0)
    return masked


@pytest.mark.parametrize('name', list(CASES))
@pytest.mark.parametrize('ratio,global_pruning', [(0.3, False), (0.5, False), (0.3, True),
                                                  (0.5, True)])
def test_prune_runs_smaller_same_structure(name, ratio, global_pruning):
    model, x, exact = make(name)
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
    if exact:
        with torch.no_grad():
            want = masked_copy(model, x, ratio, global_pruning)(x)
        for (_, a), (_, b) in zip(output_tensors(out), output_tensors(want)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


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
