"""Progress bars on a terminal, plain lines elsewhere."""
from __future__ import annotations

import io

from razor_ext.engine import Runner
from razor_ext.engine.progress import ProgressBar, interactive, track


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_is_drawn_on_a_terminal_only():
    tty, pipe = _Tty(), io.StringIO()
    assert interactive(tty) and not interactive(pipe)
    bar = ProgressBar(total=4, desc='epoch 1', stream=tty)
    for _ in range(4):
        bar.update(loss=0.25)
    bar.close()
    drawn = tty.getvalue()  # tqdm redraws at most every 0.1 s: the first frame is certain
    assert 'epoch 1' in drawn and '/4 [' in drawn and '\r' in drawn
    bar = ProgressBar(total=4, stream=pipe)
    bar.update(loss=0.25)
    bar.close()
    assert not bar.active and pipe.getvalue() == ''
    assert list(track(range(3), enabled=False)) == [0, 1, 2]


def test_a_run_without_terminal_prints_plain_lines(make_cfg, capsys):
    cfg = make_cfg(max_epochs=1)
    cfg['default_hooks']['logger']['console'] = True
    runner = Runner.from_cfg(cfg)
    assert any(type(h).__name__ == 'ProgressBarHook' for h in runner.hooks)  # on by default
    runner.train()
    out = capsys.readouterr()
    assert '[train]' in out.out and '[val]' in out.out
    assert not any(c in out.out + out.err for c in '\r\x1b')  # no control characters
