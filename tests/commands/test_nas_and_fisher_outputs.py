"""``razor-ext search`` on a differentiable supernet (DARTS) and ``razor-ext prune`` with Group
Fisher leave their results as the evolution search and ItePrune do: the derived subnet's YAML and
sliced checkpoint, and the physically pruned model."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from razor_ext.cli import main
from razor_ext.config import Config

QUICK = ['train_cfg.max_epochs=1', 'train_dataloader.dataset.split=val',
         'default_hooks.logger.console=false']


def test_darts_search_leaves_the_argmax_subnet(tmp_path, monkeypatch, capsys):
    from razor_ext.nas import load_fix_subnet
    from razor_ext.registry import MODELS

    monkeypatch.chdir(tmp_path)
    config = 'razor_ext::nas/darts/darts_supernet_1xb32_mnist5k.py'
    assert main(['search', config, '--work-dir', 'darts', '--cfg-options', *QUICK]) == 0, \
        capsys.readouterr().err
    work = tmp_path / 'darts'
    files = json.loads((work / 'results.json').read_text())['files']
    assert set(files) >= {'subnet', 'subnet_ckpt', 'last'}
    ckpt = torch.load(work / 'best_subnet.pth', weights_only=True)
    # A fresh supernet fixed by the YAML is the model the sliced checkpoint holds.
    cfg = Config.fromfile(config)
    supernet = MODELS.build(cfg.model['architecture'])
    static = load_fix_subnet(supernet, work / 'best_subnet.yaml')
    static.load_state_dict(ckpt['state_dict'])
    assert ckpt['meta']['kind'] == 'subnet'
    assert static(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_group_fisher_prune_leaves_the_pruned_model(tmp_path, monkeypatch, capsys):
    from razor_ext.pruning import load_pruned
    from razor_ext.registry import MODELS

    monkeypatch.chdir(tmp_path)
    Path('fisher.py').write_text(
        "_base_ = ['razor_ext::_base_/datasets/mnist5k.py', 'razor_ext::_base_/schedules/adam_3e.py',\n"
        "          'razor_ext::_base_/default_runtime.py']\n"
        "model = dict(type='GroupFisherAlgorithm', architecture=dict(type='MnistCNN', width=8),\n"
        "             interval=2, num_prune=4, example_inputs=None,\n"
        "             mutator=dict(type='ChannelMutator', parse_cfg=dict(type='ChannelAnalyzer',\n"
        "                                                                 demo_input=(1, 1, 28, 28))))\n")
    assert main(['prune', 'fisher.py', '--work-dir', 'fisher', '--cfg-options', *QUICK]) == 0, \
        capsys.readouterr().err
    work = tmp_path / 'fisher'
    pruned = load_pruned(MODELS.build(dict(type='MnistCNN', width=8)), work / 'pruned.pth')
    full = MODELS.build(dict(type='MnistCNN', width=8))
    assert sum(p.numel() for p in pruned.parameters()) < sum(p.numel() for p in full.parameters())
    assert (work / 'pruned.onnx').stat().st_size < (work / 'unpruned.onnx').stat().st_size
