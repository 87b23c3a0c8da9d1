"""``razor-ext bench``: the table, its ratio column and the two files (heavy sections stubbed,
the kernel section real; the full quick run is ``razor-ext bench --quick``)."""
from __future__ import annotations

import json

import pytest
import torch

from razor_ext.bench import BenchRow, format_table, round_robin, run
from razor_ext.bench.report import COLUMNS, write_report
from razor_ext.cli import main


def test_ratio_is_baseline_over_ours_and_none_without_baseline():
    assert BenchRow('a', '()', 'float32', 'cpu', 2.0, 'eager', 5.0).ratio == 2.5
    assert BenchRow('a', '()', 'float32', 'cpu', 2.0, '-', None).ratio is None


def test_round_robin_times_each_role_and_rejects_bad_rounds():
    calls = {'a': 0, 'b': 0}

    def role(name):
        def fn():
            calls[name] += 1
        return fn

    times = round_robin({'a': role('a'), 'b': role('b')}, rounds=3, warmup=1)
    assert calls == {'a': 4, 'b': 4} and set(times) == {'a', 'b'}
    with pytest.raises(ValueError, match='rounds'):
        round_robin({'a': role('a')}, rounds=0)


def test_markdown_and_json_hold_every_column(tmp_path):
    rows = [BenchRow('op', '(4,)', 'float32', 'cpu', 1.0, 'eager', 3.0, 50.0)]
    json_path, md_path = write_report(rows, {'cpu': 'x', 'threads': 1}, tmp_path)
    data = json.loads(json_path.read_text())
    assert data['rows'][0]['ratio'] == 3.0 and data['machine']['threads'] == 1
    header = next(ln for ln in md_path.read_text().splitlines() if ln.startswith('| what'))
    assert [c.strip() for c in header.strip('|').split('|')] == list(COLUMNS)
    assert format_table(rows).splitlines()[1].split()[-2:] == ['3', '50']


def test_cli_bench_quick_prints_ratio_table_and_writes_files(tmp_path, monkeypatch, capsys):
    # Whole-model sections are stubbed to keep the test short; every kernel really runs.
    stub = [BenchRow('stub model case', '(1,)', 'float32', 'cpu', 1.0, 'base', 2.0)]
    for name in ('training_rows', 'search_rows', 'prune_rows', 'deploy_rows'):
        monkeypatch.setattr(run, name, lambda quick, device: list(stub))
    assert main(['bench', '--quick', '--out', str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(ln for ln in lines if ln.startswith('what'))
    assert 'ratio' in header.split() and 'bw_pct' in header.split()
    rows = json.loads((tmp_path / 'bench.json').read_text())['rows']
    kernels = {r['what'].split()[0] for r in rows}
    assert {'fake_quantize', 'lsq_fake_quantize', 'kd_kl_div', 'cwd_loss', 'channel_norms',
            'channel_gather', 'dynamic_conv2d', 'dynamic_linear'} <= kernels
    assert all(r['razor_ext_ms'] > 0 and r['ratio'] > 0 for r in rows)
    assert (tmp_path / 'bench.md').read_text().count('\n|') == len(rows) + 2  # header, separator, rows


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the no-GPU error')
def test_cli_bench_cuda_without_gpu_is_a_clear_error(capsys):
    assert main(['bench', '--device', 'cuda']) == 2
    assert 'no CUDA device' in capsys.readouterr().err
