"""The ``razor-ext`` command (also ``python -m razor_ext``).

    razor-ext demo [--quick]             the main job on the embedded MNIST-5k: teacher -> NAS ->
                                         distillation -> pruning -> int8 -> verified ONNX + report
    razor-ext demo --joint [--runtime R] joint search (ops, widths, bit widths) vs search-then-int8
    razor-ext train CONFIG               train what a config describes (any algorithm)
    razor-ext search|prune|distill|quantize CONFIG
                                         the same runner, for configs of that family
    razor-ext export CONFIG --checkpoint CKPT --out FILE.onnx
    razor-ext info                       build information as JSON
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_EXAMPLES = {
    'demo': 'razor-ext demo --quick --work-dir razor_demo',
    'train': 'razor-ext train configs/classification/mnist5k_cnn.py --work-dir work_dirs/cnn',
    'search': 'razor-ext search configs/nas/spos/spos_searchable_mnist_supernet.py --work-dir work_dirs/spos',
    'prune': 'razor-ext prune configs/pruning/ite_prune_l1_mnist5k.py --work-dir work_dirs/prune',
    'distill': 'razor-ext distill configs/distill/kd/kd_logits_cnn16_cnn8_mnist5k.py --work-dir work_dirs/kd',
    'quantize': 'razor-ext quantize configs/quantization/ptq_int8_mnist5k.py --work-dir work_dirs/ptq',
    'export': 'razor-ext export configs/classification/mnist5k_cnn.py --checkpoint work_dirs/cnn/epoch_2.pth --out cnn.onnx',
    'info': 'razor-ext info',
}


class CliError(Exception):
    """An error shown as one line plus a hint (no traceback unless --debug)."""

    def __init__(self, message: str, hint: str = '') -> None:
        super().__init__(message)
        self.hint = hint


def _parse_cfg_options(pairs: Sequence[str]) -> dict[str, Any]:
    options = {}
    for pair in pairs:
        key, sep, raw = pair.partition('=')
        if not sep or not key:
            raise CliError(f'--cfg-options expects key=value, got {pair!r}', 'e.g. --cfg-options train_cfg.max_epochs=1')
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        options[key] = value
    return options


def _load_cfg(args: argparse.Namespace) -> Any:
    from razor_ext.config import Config

    path = Path(args.config)
    if not path.is_file():
        raise CliError(f'config file {path} does not exist', 'ready configs are under configs/')
    cfg = Config.fromfile(str(path))
    if args.cfg_options:
        cfg.merge_from_dict(_parse_cfg_options(args.cfg_options))
    if args.work_dir:
        cfg['work_dir'] = args.work_dir
    elif not cfg.get('work_dir'):
        cfg['work_dir'] = str(Path('work_dirs') / path.stem)
    if args.resume:
        cfg['resume'] = True
    if args.device:
        cfg['device'] = args.device
    if args.seed is not None:
        cfg.setdefault('randomness', {})
        cfg['randomness']['seed'] = args.seed
    return cfg


def _check_device(device: str | None) -> None:
    import torch

    if device and device.startswith('cuda') and not torch.cuda.is_available():
        raise CliError(f'--device {device}: no CUDA device is available here', 'use --device cpu')


def _run_config(args: argparse.Namespace) -> int:
    from razor_ext.engine import Runner

    _check_device(args.device)
    cfg = _load_cfg(args)
    runner = Runner.from_cfg(cfg)
    if runner.train_loop is not None:
        runner.train()
    if runner.test_loop is not None:
        print(json.dumps({'test': runner.test()}))
    elif runner.val_loop is not None and runner.train_loop is None:
        print(json.dumps({'val': runner.val()}))
    print(f'work dir: {runner.work_dir}')
    return 0


def _export(args: argparse.Namespace) -> int:
    import torch

    from razor_ext.engine import Runner
    from razor_ext.export import to_onnx

    cfg = _load_cfg(args)
    for key in ('train_cfg', 'val_cfg', 'test_cfg', 'resume'):
        cfg.pop(key, None)
    runner = Runner.from_cfg(cfg)
    if args.checkpoint:
        runner.load_checkpoint(args.checkpoint)
    shape = [int(s) for s in args.input_shape.split(',')]
    path = to_onnx(runner.model.architecture, torch.randn(*shape), args.out, verify=True)
    print(f'wrote {path} ({path.stat().st_size / 1024:.1f} KiB), verified in onnxruntime')
    return 0


def _demo(args: argparse.Namespace) -> int:
    from razor_ext.demo import run_demo

    _check_device(args.device)
    if args.joint:
        import json

        from razor_ext.demo.joint_stage import run_joint_demo

        report = run_joint_demo(args.work_dir or 'razor_demo_joint', runtime=args.runtime,
                                epochs=1 if args.quick else 6, seed=args.seed or 0,
                                num_candidates=8 if args.quick else 10,
                                max_epochs=2 if args.quick else 4)
        print(json.dumps(report, indent=1, default=str))
        return 0
    results = run_demo(args.work_dir or 'razor_demo', quick=args.quick, seed=args.seed or 0)
    return 1 if any(r.status == 'failed' for r in results) else 0


def _info(_: argparse.Namespace) -> int:
    from razor_ext.extension import build_info

    print(json.dumps(build_info(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='razor-ext', description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog='examples:\n' + '\n'.join(f'  {e}' for e in _EXAMPLES.values()))
    sub = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')

    def add(name: str, help_text: str, run: Any, config: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=f'example:\n  {_EXAMPLES[name]}',
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if config:
            p.add_argument('config', help='config file (.py, .yaml or .json)')
            p.add_argument('--resume', action='store_true', help='continue from work_dir/last_checkpoint')
            p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                           help='override config keys, e.g. train_cfg.max_epochs=1 (values parsed as JSON)')
        if name != 'info':
            p.add_argument('--work-dir', help='where checkpoints, logs and reports go')
            p.add_argument('--device', default=None, help='cpu (default) or cuda')
            p.add_argument('--seed', type=int, default=None, help='random seed')
        p.add_argument('--debug', action='store_true', help='show the full traceback on errors')
        p.set_defaults(run=run)
        return p

    demo = add('demo', 'compress a digit classifier end to end on the embedded MNIST-5k and write a report',
               _demo, config=False)
    demo.add_argument('--quick', action='store_true', help='one epoch per stage (under a minute)')
    demo.add_argument('--joint', action='store_true',
                      help='joint search (ops, widths, bit widths) vs search-then-int8, Pareto fronts')
    demo.add_argument('--runtime', default='onnxruntime', choices=('onnxruntime', 'openvino'),
                      help='where --joint measures latency')
    add('train', 'train the model or algorithm a config describes', _run_config)
    add('search', 'run a NAS config (supernet training, or a search loop in train_cfg)', _run_config)
    add('prune', 'run a pruning config (e.g. ItePruneAlgorithm)', _run_config)
    add('distill', 'run a distillation config (e.g. SingleTeacherDistill)', _run_config)
    add('quantize', 'run a quantization config (PTQ or QAT)', _run_config)
    export = add('export', 'export the model of a config (and checkpoint) to ONNX, verified in onnxruntime',
                 _export)
    export.add_argument('--checkpoint', help='weights to load (a runner checkpoint)')
    export.add_argument('--out', required=True, help='the .onnx file to write')
    export.add_argument('--input-shape', default='1,1,28,28', help='example input shape (default 1,1,28,28)')
    add('info', 'print build information as JSON', _info, config=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``razor-ext``; returns the process exit code."""
    args = build_parser().parse_args(argv)
    debug = args.debug or bool(os.environ.get('RAZOR_EXT_DEBUG'))
    try:
        return args.run(args)
    except CliError as err:
        if debug:
            traceback.print_exc()
        print(f'razor-ext {args.command}: error: {err}' + (f'\n  hint: {err.hint}' if err.hint else ''),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'razor-ext {args.command}: interrupted', file=sys.stderr)
        return 130
    except Exception as err:  # one clear line for users; --debug for the traceback
        if debug:
            traceback.print_exc()
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f'razor-ext {args.command}: error: {type(err).__name__}: {message}\n'
              f'  hint: run again with --debug for the traceback', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
