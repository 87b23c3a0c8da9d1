"""Pruning at realistic sizes, 2 CPU threads, everything in one run:

* analysis + 50% L2 pruning (``razor_ext.prune``) vs Torch-Pruning 1.6.1's graph build +
  ``BasePruner.step()`` (skipped cleanly when ``torch_pruning`` is not installed) on ResNet-50 and
  ResNet-101 at 224x224, a ViT-B-sized and a DenseNet-121-sized model;
* an 8-layer LLM decoder at hidden size 1024 (analysis must stay under 5 s);
* physical removal of ResNet-50 against copying the kept bytes (its floor);
* the cold time of one ``prune`` call in a fresh process (what a user sees);
* the first ``channel_gather`` calls of a fresh process against an ``index_select`` loop.

Roles alternate round robin (``ROUNDS`` rounds, median of the per-round ratios), printed at the
end of each test (run with ``-s``). With ``--benchmark-disable`` only ResNet-50 runs, once: a smoke
test. The large models also run under RAZOR_EXT_FULL_TESTS=1.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import pytest
import torch

import razor_ext
from razor_ext.architectures.resnet import ResNet, resnet50
from razor_ext.analysis import ChannelAnalyzer
from razor_ext.pruning.importance import atom_importance
from razor_ext.pruning.prune import apply_plan, copy_without, removal_plan, select_removed

ROUNDS = int(os.environ.get('RAZOR_EXT_PRUNE_ROUNDS', '5'))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _enabled(benchmark) -> bool:
    return not benchmark.disabled or os.environ.get('RAZOR_EXT_FULL_TESTS') == '1'


def round_robin(benchmark, group: str, roles: dict[str, Callable[[], object]],
                rounds: int = ROUNDS) -> dict[str, float]:
    """Median seconds per role, roles alternating each round; prints ratios against 'ours'."""
    if benchmark.disabled:
        rounds = 1
    times: dict[str, list[float]] = {r: [] for r in roles}
    failed: dict[str, str] = {}
    for i in range(rounds):
        for name in (list(roles) if i % 2 == 0 else list(roles)[::-1]):
            if name in failed:
                continue
            start = time.perf_counter()
            try:
                out = roles[name]()
            except Exception as exc:  # noqa: BLE001  a peer that cannot prune this model
                if name == 'ours':
                    raise
                failed[name] = f'{type(exc).__name__}: {str(exc)[:80]}'
                continue
            times[name].append(time.perf_counter() - start)
            del out
    for name, why in failed.items():
        print(f'\n[{group}] {name} failed: {why}')
        del times[name]
    roles = {r: f for r, f in roles.items() if r in times}
    med = {r: statistics.median(t) for r, t in times.items()}
    parts = [f'{r} {med[r] * 1e3:.0f} ms' for r in roles]
    if 'ours' in times:
        for r in roles:
            if r != 'ours':
                ratio = statistics.median(a / b for a, b in zip(times['ours'], times[r]))
                parts.append(f'ours/{r} {ratio:.2f}x')
    print(f'\n[{group}] {torch.get_num_threads()} threads, {rounds} rounds: ' + ', '.join(parts))
    benchmark.extra_info.update({f'{group} {r} s': v for r, v in med.items()})
    return med


def record(benchmark) -> None:
    """Register the test with pytest-benchmark once (timings are in extra_info)."""
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)


def torch_pruning_role(model_fn, x, ignored: Callable) -> Callable[[], object]:
    tp = pytest.importorskip('torch_pruning')

    def run():
        model = model_fn()
        pruner = tp.pruner.BasePruner(model, x, importance=tp.importance.MagnitudeImportance(p=2),
                                      pruning_ratio=0.5, ignored_layers=ignored(model))
        pruner.step()
        return model
    return run


def vit_b():
    from tests.pruning.zoo import ViT
    return ViT(num_classes=1000, dim=768, depth=12, heads=12, patch=16, image=224)


def densenet121():
    from torch import nn

    from tests.pruning.zoo.cnn import DenseLayer

    class DenseNet121(nn.Module):
        def __init__(self, growth=32, blocks=(6, 12, 24, 16)):
            super().__init__()
            c = 64
            self.stem = nn.Sequential(nn.Conv2d(3, c, 7, 2, 3, bias=False), nn.BatchNorm2d(c),
                                      nn.ReLU(), nn.MaxPool2d(3, 2, 1))
            self.blocks, self.trans = nn.ModuleList(), nn.ModuleList()
            for i, n in enumerate(blocks):
                self.blocks.append(nn.ModuleList([DenseLayer(c + j * growth, growth)
                                                  for j in range(n)]))
                c += n * growth
                if i < len(blocks) - 1:
                    self.trans.append(nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(),
                                                    nn.Conv2d(c, c // 2, 1, bias=False),
                                                    nn.AvgPool2d(2)))
                    c //= 2
            self.norm = nn.BatchNorm2d(c)
            self.fc = nn.Linear(c, 1000)

        def forward(self, x):
            x = self.stem(x)
            for i, block in enumerate(self.blocks):
                feats = [x]
                for layer in block:
                    feats.append(layer(feats))
                x = torch.cat(feats, 1)
                if i < len(self.trans):
                    x = self.trans[i](x)
            return self.fc(torch.relu(self.norm(x)).mean((2, 3)))

    return DenseNet121()


def _cnn(name: str):
    from benchmarks import cnn_models
    return getattr(cnn_models, name)()


CNN_CASES = {
    'resnet50': (resnet50, (1, 3, 224, 224)),
    'resnet101': (lambda: ResNet((3, 4, 23, 3)), (1, 3, 224, 224)),
    'vit_b': (vit_b, (1, 3, 224, 224)),
    'densenet121': (densenet121, (1, 3, 224, 224)),
    # issue 26: torchvision's layer sizes, written in benchmarks/cnn_models.py
    'efficientnet_b0': (lambda: _cnn('efficientnet_b0'), (1, 3, 224, 224)),
    'convnext_t': (lambda: _cnn('ConvNeXtT'), (1, 3, 224, 224)),
    'inception_v3': (lambda: _cnn('InceptionV3'), (1, 3, 299, 299)),
}


@pytest.mark.parametrize('name', list(CNN_CASES))
def test_prune_vs_torch_pruning(benchmark, name):
    if name != 'resnet50' and not _enabled(benchmark):
        pytest.skip('large model: runs with benchmarks enabled or RAZOR_EXT_FULL_TESTS=1')
    torch.set_num_threads(2)
    build, shape = CNN_CASES[name]
    torch.manual_seed(0)
    model = build().eval()
    x = torch.randn(shape)
    roles = {'ours': lambda: razor_ext.prune(model, x, ratio=0.5, importance='l2')}
    pruned = roles['ours']()
    assert sum(p.numel() for p in pruned.parameters()) < sum(p.numel() for p in model.parameters())
    try:
        roles['torch_pruning'] = torch_pruning_role(
            lambda: build().eval(), x, lambda m: [m.head if hasattr(m, 'head') else m.fc])
    except pytest.skip.Exception:
        pass
    med = round_robin(benchmark, f'prune 50% L2 {name} {shape[-1]}', roles)
    record(benchmark)
    if name == 'resnet50' and 'torch_pruning' in med and not benchmark.disabled:
        # Target: at most a third of Torch-Pruning's time (reported; shared CPU, see RESULTS.md).
        print(f'[prune resnet50] ours {med["ours"]:.3f} s vs a third of Torch-Pruning '
              f'{med["torch_pruning"] / 3:.3f} s')


def test_llm_decoder_8_layers_1024(benchmark):
    if not _enabled(benchmark):
        pytest.skip('large model: runs with benchmarks enabled or RAZOR_EXT_FULL_TESTS=1')
    from tests.pruning.zoo import TinyLlama, TinyLlamaConfig
    torch.set_num_threads(2)
    cfg = TinyLlamaConfig(vocab_size=32000, hidden_size=1024, intermediate_size=2816,
                          num_hidden_layers=8, num_attention_heads=16, num_key_value_heads=4,
                          head_dim=64)
    model = TinyLlama(cfg).eval()
    ids = torch.randint(0, 32000, (1, 64))
    start = time.perf_counter()
    analysis = ChannelAnalyzer().run(model, ids)
    analysis_s = time.perf_counter() - start
    assert analysis_s < 5.0
    assert sum(u.prunable for u in analysis.units) == 1 + 2 * 8
    round_robin(benchmark, 'LLM 8x1024 analysis', {'ours': lambda: ChannelAnalyzer().run(model, ids)})
    round_robin(benchmark, 'LLM 8x1024 prune 50% L2',
                {'ours': lambda: razor_ext.prune(model, ids, ratio=0.5, importance='l2')})
    record(benchmark)


def test_transformers_llama_1b_prune_vs_deepcopy(benchmark):
    """A transformers Llama of about 1 B parameters (hidden 2048, 16 layers, vocab 32000,
    random weights): analysis + 50% L2 prune against ``copy.deepcopy`` of the model."""
    if not _enabled(benchmark):
        pytest.skip('large model: runs with benchmarks enabled or RAZOR_EXT_FULL_TESTS=1')
    T = pytest.importorskip('transformers')
    import copy
    torch.set_num_threads(2)
    torch.manual_seed(0)
    cfg = T.LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632,
                        num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8)
    model = T.LlamaForCausalLM(cfg).eval()
    print(f'\n[llama] {sum(p.numel() for p in model.parameters()) / 1e9:.2f} B parameters')
    ids = torch.randint(0, 32000, (1, 16))
    med = round_robin(benchmark, 'transformers Llama ~1B prune 50% L2 vs deepcopy',
                      {'ours': lambda: razor_ext.prune(model, ids, ratio=0.5, importance='l2'),
                       'deepcopy': lambda: copy.deepcopy(model)}, rounds=min(ROUNDS, 2))
    record(benchmark)
    # Target (issue 26): less than a deepcopy. Reported, not asserted: both are memory bound
    # and a shared CPU moves them apart (see RESULTS.md).
    print(f'[llama ~1B] prune {med["ours"]:.2f} s vs deepcopy {med["deepcopy"]:.2f} s '
          f'({med["ours"] / med["deepcopy"]:.2f}x; target < 1x, aim < 0.8x)')


def test_physical_removal_vs_copy_of_kept_bytes(benchmark):
    torch.set_num_threads(2)
    model = resnet50().eval()
    x = torch.randn(1, 3, 224, 224)
    analysis = ChannelAnalyzer().run(model, x)
    removed = select_removed(analysis.units, atom_importance(analysis, model, 'l2'), 0.5, False)
    plan = removal_plan(analysis, removed)
    state = dict(model.state_dict())
    kept = [(state[k], dims) for k, dims in plan.items()]

    def removal():
        m = copy_without(model, plan)
        apply_plan(m, plan)
        return m

    def copy_kept_bytes():
        out = []
        for t, dims in kept:
            view = t
            for d, keep in dims:  # contiguous slices as big as what is kept
                view = view.narrow(d, 0, len(keep))
            out.append(torch.empty(view.shape, dtype=t.dtype).copy_(view))
        return out

    round_robin(benchmark, 'physical removal resnet50 50%',
                {'ours': removal, 'copy kept bytes': copy_kept_bytes}, rounds=max(ROUNDS, 9))
    record(benchmark)


COLD = textwrap.dedent('''
    import time, sys
    t0 = time.perf_counter()
    import torch
    torch.set_num_threads(2)
    import razor_ext
    from razor_ext.architectures.resnet import resnet50
    t1 = time.perf_counter()
    m = resnet50().eval(); x = torch.randn(1, 3, 224, 224)
    t2 = time.perf_counter()
    razor_ext.prune(m, x, ratio=0.5, importance='l2')
    t3 = time.perf_counter()
    razor_ext.prune(m, x, ratio=0.5, importance='l2')
    t4 = time.perf_counter()
    print(f'{t1 - t0:.3f} {t3 - t2:.3f} {t4 - t3:.3f}')
''')


def test_cold_prune_in_fresh_process(benchmark):
    runs = []
    for _ in range(1 if benchmark.disabled else 3):
        out = subprocess.run([sys.executable, '-c', COLD], capture_output=True, text=True,
                             env={**os.environ, 'PYTHONPATH': ROOT}, check=True)
        runs.append([float(v) for v in out.stdout.split()])
    imp, cold, warm = (statistics.median(r[i] for r in runs) for i in range(3))
    print(f'\n[cold prune resnet50 224] import {imp:.2f} s, first prune {cold:.3f} s, '
          f'second prune {warm:.3f} s ({len(runs)} fresh processes)')
    benchmark.extra_info.update(import_s=imp, cold_s=cold, warm_s=warm)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)


GATHER_COLD = textwrap.dedent('''
    import time, sys, collections
    import torch
    torch.set_num_threads(2)
    import razor_ext
    from razor_ext.architectures.resnet import resnet50
    from razor_ext.ops import channel_gather
    torch.manual_seed(0)
    groups = collections.defaultdict(list)
    for t in resnet50().state_dict().values():
        if t.is_floating_point():
            groups[t.shape[0]].append(t)
    g = torch.Generator().manual_seed(1)
    idx = {c: torch.randperm(c, generator=g)[: c // 2].sort().values for c in groups}
    which = sys.argv[1]
    out = []
    for _ in range(5):
        t = time.perf_counter()
        if which == 'gather':
            r = [channel_gather(ts, idx[c], [0] * len(ts)) for c, ts in groups.items()]
        else:
            r = [[x.index_select(0, idx[c]) for x in ts] for c, ts in groups.items()]
        out.append(time.perf_counter() - t)
        del r
    print(' '.join(f'{s * 1e3:.1f}' for s in out))
''')


def test_cold_gather_first_calls(benchmark):
    """First calls in a fresh process: each role in its own process, alternating."""
    res = {'gather': [], 'index_select': []}
    for i in range(1 if benchmark.disabled else 4):
        for which in (('gather', 'index_select') if i % 2 == 0 else ('index_select', 'gather')):
            out = subprocess.run([sys.executable, '-c', GATHER_COLD, which], capture_output=True,
                                 text=True, env={**os.environ, 'PYTHONPATH': ROOT}, check=True)
            res[which].append([float(v) for v in out.stdout.split()])
    for which, runs in res.items():
        med = [statistics.median(r[k] for r in runs) for k in range(5)]
        print(f'\n[cold {which} resnet50 state dict] calls 1-5 (ms, median of {len(runs)} '
              f'processes): ' + ', '.join(f'{v:.1f}' for v in med))
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
