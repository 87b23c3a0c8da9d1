"""The razor-ext command: every subcommand's --help has an example; config commands train and
export; errors are one line plus a hint (a traceback only with --debug)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import razor_ext
from razor_ext.cli import build_parser, main

CONFIG = str(Path(__file__).resolve().parents[1] / "configs" / "classification" / "mnist5k_cnn.py")
QUICK = ["--cfg-options", "train_cfg.max_epochs=1", "train_dataloader.dataset.split=val",
         "default_hooks.logger.console=false"]


def test_info_prints_build_info_json(capsys):
    assert main(["info"]) == 0
    assert json.loads(capsys.readouterr().out) == razor_ext.build_info()


@pytest.mark.parametrize("command", ["demo", "train", "search", "prune", "distill", "quantize", "export", "configs",
                                     "info"])
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out and f"razor-ext {command}" in out


def test_train_then_export(tmp_path, capsys):
    assert main(["train", CONFIG, "--work-dir", str(tmp_path), *QUICK]) == 0
    assert "accuracy/top1" in capsys.readouterr().out
    out = tmp_path / "cnn.onnx"
    assert main(["export", CONFIG, "--checkpoint", str(tmp_path / "epoch_1.pth"), "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000 and "verified in onnxruntime" in capsys.readouterr().out


def test_errors_are_one_line_with_a_hint(tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.py")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "hint:" in err and "Traceback" not in err
    bad = tmp_path / "bad.py"
    bad.write_text("model = dict(type='NoSuchModel')\ntrain_cfg = None\nval_cfg = None\n")
    assert main(["train", str(bad), "--work-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "NoSuchModel" in err and "--debug" in err and "Traceback" not in err
    assert main(["train", CONFIG, "--cfg-options", "novalue"]) == 2
    assert "key=value" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("model = dict(type='NoSuchModel')\n")
    assert main(["train", str(bad), "--work-dir", str(tmp_path), "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_cuda_device_without_cuda_is_a_clear_error(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert main(["train", CONFIG, "--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "razor_ext", "info"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["version"] == razor_ext.__version__


def test_parser_lists_all_commands():
    text = build_parser().format_help()
    for command in ("demo", "train", "search", "prune", "distill", "quantize", "export", "configs", "info"):
        assert command in text


def test_configs_lists_the_shipped_configs_by_scoped_name(capsys):
    assert main(["configs"]) == 0
    names = [line for line in capsys.readouterr().out.splitlines() if line.startswith("razor_ext::")]
    assert "razor_ext::classification/mnist5k_cnn.py" in names
    assert not any("_base_" in n for n in names)
    assert main(["configs", "spos*mnist"]) == 0
    out = capsys.readouterr().out
    assert "razor_ext::nas/spos/spos_searchable_mnist_supernet.py" in out and "mnist5k_cnn" not in out
    assert main(["configs", "no-such-config"]) == 1


def test_an_unknown_scope_or_shipped_name_is_one_line_with_a_hint(capsys):
    assert main(["train", "razor_ext::nope/missing.py"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "razor-ext configs" in err
    assert main(["train", "nosuchscope::x.py"]) == 2
    assert 'unknown config scope "nosuchscope::"' in capsys.readouterr().err


def test_every_help_example_runs_from_outside_the_repository(tmp_path, monkeypatch, capsys):
    """The examples of razor-ext --help, in order (export reads what train wrote), shortened to
    one epoch on the 500-image split; demo and the benchmark suite have their own tests
    (tests/demo, tests/bench)."""
    from razor_ext.cli import _EXAMPLES

    monkeypatch.chdir(tmp_path)
    short = {"train": QUICK[1:], "search": QUICK[1:], "prune": [*QUICK[1:], "model.step_freq=2"],
             "distill": QUICK[1:], "quantize": ["train_cfg.calibrate_steps=1"], "export": []}
    for command, example in _EXAMPLES.items():
        if command in ("demo", "bench"):
            continue
        argv = example.split()[1:]
        if command in short and short[command]:
            argv += ["--cfg-options", *short[command]]
        assert main(argv) == 0, (example, capsys.readouterr().err)
        out, err = capsys.readouterr()
        if command in ("distill", "quantize"):  # their examples leave the checkpoint key unset
            assert "runs on random weights: set model." in err
    assert (tmp_path / "cnn.onnx").is_file()
    for name in ("cnn/last.pth", "prune/pruned.pth", "prune/pruned.onnx", "kd/student.pth",
                 "ptq/quantized.pth", "ptq/quantized.onnx"):
        assert (tmp_path / "work_dirs" / name).is_file(), name
