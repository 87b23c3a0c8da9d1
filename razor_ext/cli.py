"""The ``razor-ext`` command (also ``python -m razor_ext``).

    razor-ext demo [--quick]             the main job on the embedded MNIST-5k: teacher -> NAS ->
                                         distillation -> pruning -> int8 -> verified ONNX + report
    razor-ext demo --joint [--runtime R] joint search (ops, widths, bit widths) vs search-then-int8
    razor-ext train CONFIG               train what a config describes (any algorithm)
    razor-ext search|prune|distill|quantize CONFIG
                                         the same runner; each leaves its result in the work dir
    razor-ext export CONFIG --checkpoint CKPT --out FILE.onnx
    razor-ext configs [PATTERN]          the shipped configs (CONFIG may be razor_ext::<name>)
    razor-ext bench [--quick] [--out DIR] [--device cpu|cuda]
                                         the benchmark suite as one table (ratio = baseline / razor_ext)
    razor-ext bench FILE.onnx [--runtime onnxruntime openvino]
                                         latency of an exported model in the runtimes, as JSON
    razor-ext info                       build information as JSON

What each command writes: docs/workflow.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any

from razor_ext.commands.errors import CommandError

_EXAMPLES = {
    'demo': 'razor-ext demo --quick --work-dir razor_demo',
    'train': 'razor-ext train razor_ext::classification/mnist5k_cnn.py --work-dir work_dirs/cnn',
    'search': 'razor-ext search razor_ext::nas/spos/spos_searchable_mnist_supernet.py --work-dir work_dirs/spos',
    'prune': 'razor-ext prune razor_ext::pruning/ite_prune_l1_mnist5k.py --work-dir work_dirs/prune',
    'distill': 'razor-ext distill razor_ext::distill/kd/kd_logits_cnn16_cnn8_mnist5k.py --work-dir work_dirs/kd',
    'quantize': 'razor-ext quantize razor_ext::quantization/ptq_int8_mnist5k.py --work-dir work_dirs/ptq',
    'export': 'razor-ext export razor_ext::classification/mnist5k_cnn.py --checkpoint work_dirs/cnn/last.pth --out cnn.onnx',
    'configs': 'razor-ext configs spos',
    'info': 'razor-ext info',
    'bench': 'razor-ext bench --quick --out bench_out',
    'bench_onnx': 'razor-ext bench cnn.onnx --runtime onnxruntime openvino --threads 2 --batch-size 1',
}

CliError = CommandError  # the name earlier code and tests use


def _run_config(args: argparse.Namespace) -> int:
    from razor_ext.commands.run import run_config

    run_config(args.command, args.config, args.cfg_options, args.work_dir, args.resume, args.device,
               args.seed, launcher=args.launcher)
    return 0


def _export(args: argparse.Namespace) -> int:
    from razor_ext.commands.export import export_config

    shape = [int(s) for s in args.input_shape.split(',')]
    export_config(args.config, args.out, args.checkpoint, shape, args.cfg_options, args.work_dir)
    return 0


def _configs(args: argparse.Namespace) -> int:
    from razor_ext.commands.listing import list_configs

    return 0 if list_configs(args.pattern) else 1


def _demo(args: argparse.Namespace) -> int:
    from razor_ext.commands.run import check_device
    from razor_ext.demo import run_demo

    check_device(args.device)
    if args.joint:
        import json

        from razor_ext.demo.joint_stage import run_joint_demo

        report = run_joint_demo(args.work_dir or 'razor_demo_joint', runtime=args.runtime,
                                epochs=1 if args.quick else 6, seed=args.seed or 0,
                                num_candidates=8 if args.quick else 16,
                                max_epochs=2 if args.quick else 6)
        print(json.dumps(report, indent=1, default=str))
        return 0
    results = run_demo(args.work_dir or 'razor_demo', quick=args.quick, seed=args.seed or 0,
                       latency_runtime=args.runtime)
    return 1 if any(r.status == 'failed' for r in results) else 0


def _bench(args: argparse.Namespace) -> int:
    from razor_ext.commands.run import check_device

    if args.onnx is not None:  # latency of one exported file in the deployment runtimes
        from razor_ext.commands.latency import bench_onnx

        bench_onnx(args.onnx, args.runtime, args.threads, args.warmup, args.repeats, args.batch_size)
        return 0
    from razor_ext.bench import run_bench

    check_device(args.device)
    run_bench(quick=args.quick, out=args.out, device=args.device or 'cpu')
    return 0


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
            p.add_argument('config', help='config file (.py, .yaml or .json) or a shipped one, '
                                          'razor_ext::<name> (see razor-ext configs)')
            p.add_argument('--resume', action='store_true', help='continue from work_dir/last_checkpoint')
            p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                           help='override config keys, e.g. train_cfg.max_epochs=1 (values parsed as JSON)')
            p.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                           help='pytorch: data-parallel under torchrun '
                                '(torchrun --nproc_per_node N -m razor_ext train CONFIG --launcher pytorch)')
        if name not in ('info', 'configs'):
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
                      help='where latency is measured: the --joint search, or the NAS stage\'s '
                           'latency constraint')
    add('train', 'train the model or algorithm a config describes', _run_config)
    add('search', 'run a NAS config (supernet training, or a search loop in train_cfg)', _run_config)
    add('prune', 'run a pruning config (e.g. ItePruneAlgorithm)', _run_config)
    add('distill', 'run a distillation config (e.g. SingleTeacherDistill)', _run_config)
    add('quantize', 'run a quantization config (PTQ or QAT)', _run_config)
    export = add('export', 'export the model of a config (and checkpoint) to ONNX or OpenVINO IR, '
                           'verified in the runtime', _export)
    export.add_argument('--checkpoint', help='weights to load (any file a razor-ext command wrote)')
    export.add_argument('--out', required=True, help='the file to write: .onnx (checked in onnxruntime) '
                                                     'or .xml (OpenVINO IR, checked in OpenVINO)')
    export.add_argument('--input-shape', default='1,1,28,28', help='example input shape (default 1,1,28,28)')
    configs = add('configs', 'list the shipped configs (run one as razor_ext::<name>)', _configs,
                  config=False)
    configs.add_argument('pattern', nargs='?', default=None, help="filter, e.g. 'spos' or 'nas/*'")
    add('info', 'print build information as JSON', _info, config=False)
    bench = sub.add_parser('bench', help='run the benchmark suite and print one table with ratios',
                           description='run the benchmark suite and print one table with ratios',
                           epilog=f"examples:\n  {_EXAMPLES['bench']}\n  {_EXAMPLES['bench_onnx']}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument('onnx', nargs='?', default=None,
                       help='an .onnx file: time it in the deployment runtimes instead of the suite')
    bench.add_argument('--quick', action='store_true', help='small shapes, few rounds (under 2 minutes)')
    bench.add_argument('--out', help='folder for bench.json and bench.md')
    bench.add_argument('--device', default=None, choices=['cpu', 'cuda'], help='cpu (default) or cuda')
    bench.add_argument('--runtime', nargs='+', default=['onnxruntime', 'openvino'],
                       choices=['onnxruntime', 'openvino'], help='with FILE.onnx: runtimes to time (default both)')
    bench.add_argument('--threads', type=int, default=None, help="with FILE.onnx: intra-op threads (default: torch's)")
    bench.add_argument('--batch-size', type=int, default=1, help='with FILE.onnx: dynamic batch dimension (default 1)')
    bench.add_argument('--warmup', type=int, default=10, help='with FILE.onnx: untimed calls first')
    bench.add_argument('--repeats', type=int, default=50, help='with FILE.onnx: timed calls (the median is reported)')
    bench.add_argument('--debug', action='store_true', help='show the full traceback on errors')
    bench.set_defaults(run=_bench)
    return parser


def _one_line_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    print(f'razor-ext: warning: {message}', file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``razor-ext``; returns the process exit code."""
    args = build_parser().parse_args(argv)
    debug = args.debug or bool(os.environ.get('RAZOR_EXT_DEBUG'))
    try:
        with warnings.catch_warnings():
            if not debug:  # a warning is one line on the terminal (with --debug: where it came from)
                warnings.showwarning = _one_line_warning
            return args.run(args)
    except CommandError as err:
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
