import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from razor_ext.engine import Runner
from razor_ext.engine.hooks import Hook
from tests.engine.conftest import small_cfg

ROOT = Path(__file__).resolve().parents[2]


def test_train_val_test_learn_digits_and_log(make_cfg):
    cfg = make_cfg(test_dataloader=dict(batch_size=100, dataset=dict(type='EmbeddedDigits', split='test')),
                   test_cfg=dict(type='TestLoop'))
    runner = Runner.from_cfg(cfg)
    before = runner.val()['accuracy/top1']
    runner.train()
    after = runner.val()['accuracy/top1']
    assert after > before + 20  # it learned (chance is 10%)
    assert runner.test()['accuracy/top1'] == pytest.approx(after)  # val and test use the same split here
    work = Path(cfg['work_dir'])
    records = [json.loads(line) for line in (work / 'log.jsonl').read_text().splitlines()]
    assert {r['mode'] for r in records} == {'train', 'val', 'test'}
    assert all('loss' in r for r in records if r['mode'] == 'train')
    assert (work / 'last_checkpoint').read_text().strip() == 'epoch_2.pth'
    assert runner.current_lr() == pytest.approx(1.5e-3)  # MultiStepLR halved it after epoch 1


def test_keeps_last_n_and_best(make_cfg):
    cfg = make_cfg(max_epochs=3, default_hooks=dict(
        logger=dict(type='LoggerHook', console=False),
        checkpoint=dict(type='CheckpointHook', max_keep_ckpts=1, save_best='accuracy/top1')))
    Runner.from_cfg(cfg).train()
    names = sorted(p.name for p in Path(cfg['work_dir']).glob('*.pth'))
    assert names == ['best_accuracy_top1.pth', 'epoch_3.pth']
    best = torch.load(Path(cfg['work_dir']) / 'best_accuracy_top1.pth', weights_only=False)
    assert best['meta']['best_score'] > 10


def test_iter_based_loop_and_dict_optimizers(make_cfg):
    cfg = make_cfg(train_cfg=dict(type='IterBasedTrainLoop', max_iters=13, val_interval=5),
                   optim_wrapper=dict(architecture=dict(optimizer=dict(type='Adam', lr=1e-3))),
                   param_scheduler=None)

    class Count(Hook):
        n = 0

        def after_train_iter(self, runner, **kw):
            Count.n += 1

    runner = Runner.from_cfg(cfg)
    runner.register_hook(Count())
    runner.train()
    assert Count.n == 13 and runner.train_loop.iter == 13
    assert set(runner.optim_wrapper) == {'architecture'}


def test_config_errors_are_clear(make_cfg):
    with pytest.raises(KeyError, match='Adamm'):
        Runner.from_cfg(make_cfg(optim_wrapper=dict(optimizer=dict(type='Adamm', lr=1))))
    with pytest.raises(KeyError, match='EpochBasedTrainLop'):
        Runner.from_cfg(make_cfg(train_cfg=dict(type='EpochBasedTrainLop', max_epochs=1)))
    with pytest.raises(KeyError, match="no 'model'"):
        Runner.from_cfg({'work_dir': 'x'})
    with pytest.raises(ValueError, match='max_epochs'):
        Runner.from_cfg(make_cfg(max_epochs=0))


_KILL_SCRIPT = textwrap.dedent('''
    import os, sys
    sys.path.insert(0, {root!r})
    from razor_ext.engine import Runner
    from razor_ext.engine.hooks import Hook
    from tests.engine.conftest import small_cfg

    class Crash(Hook):
        priority = 99  # after the checkpoint hook
        def after_train_iter(self, runner, **kw):
            if runner.train_loop.iter == 13:
                os._exit(17)  # killed mid-epoch, right after a checkpoint

    cfg = small_cfg({work!r}, max_epochs=3, resume={resume})
    cfg['default_hooks']['checkpoint'] = dict(type='CheckpointHook', interval=13, by_epoch=False)
    runner = Runner.from_cfg(cfg)
    if {crash}:
        runner.register_hook(Crash())
    runner.train()
''')


def _run(work, crash, resume):
    script = _KILL_SCRIPT.format(root=str(ROOT), work=str(work), crash=crash, resume=resume)
    return subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, 'PYTHONPATH': str(ROOT)}, timeout=300)


def test_killed_mid_epoch_and_resumed_equals_straight_run(tmp_path):
    straight = _run(tmp_path / 'straight', crash=False, resume=False)
    assert straight.returncode == 0, straight.stderr
    killed = _run(tmp_path / 'resumed', crash=True, resume=False)
    assert killed.returncode == 17, killed.stderr
    assert (tmp_path / 'resumed' / 'last_checkpoint').read_text().strip() == 'iter_13.pth'  # 10 iters/epoch
    resumed = _run(tmp_path / 'resumed', crash=False, resume=True)
    assert resumed.returncode == 0, resumed.stderr
    a = torch.load(tmp_path / 'straight' / 'iter_30.pth', weights_only=False)
    b = torch.load(tmp_path / 'resumed' / 'iter_30.pth', weights_only=False)
    for key in a['state_dict']:
        assert torch.equal(a['state_dict'][key], b['state_dict'][key]), key
