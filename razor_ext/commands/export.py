"""``razor-ext export CONFIG --checkpoint FILE --out FILE.onnx|FILE.xml``: any command's result
as a verified ONNX file (QDQ for a quantized model), or as OpenVINO IR when ``--out`` ends in
``.xml`` (checked in OpenVINO; needs ``pip install razor_ext[openvino]``)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from razor_ext.commands.errors import CommandError
from razor_ext.commands.loading import load_cfg

__all__ = ['export_config']


def export_config(config: str, out: str, checkpoint: str | None = None,
                  input_shape: Sequence[int] = (1, 1, 28, 28), cfg_options: Sequence[str] = (),
                  work_dir: str | None = None) -> Path:
    """Build the model of ``config``, load ``checkpoint`` (any file a command wrote: prefixes
    and pruned shapes are fitted) and write ``out``, checked in onnxruntime; returns the path.

    A quantized model (``MMArchitectureQuant``) becomes QDQ ONNX; any other its network. An
    ``out`` ending in ``.xml`` is written as OpenVINO IR (``.xml`` + ``.bin``) instead.
    """
    from razor_ext.engine import Runner
    from razor_ext.export import to_onnx, to_openvino
    from razor_ext.quantization import MMArchitectureQuant, export_openvino

    cfg = load_cfg(config, cfg_options, work_dir)
    for key in ('train_cfg', 'val_cfg', 'test_cfg', 'resume', 'load_from'):
        cfg.pop(key, None)
    runner = Runner.from_cfg(cfg)
    if checkpoint:
        runner.load_checkpoint(checkpoint)
    model = runner.model.eval()
    example = torch.randn(*input_shape)
    openvino = Path(out).suffix.lower() == '.xml'
    if isinstance(model, MMArchitectureQuant):
        if not checkpoint:
            raise CommandError('a quantized model exports from its quantized checkpoint',
                               'pass --checkpoint <work dir>/quantized.pth')
        path = (export_openvino(model.architecture, example, out) if openvino
                else model.export_onnx(out, example))
    elif openvino:
        path = to_openvino(model.architecture, example, out, verify=True)
    else:
        path = to_onnx(model.architecture, example, out, verify=True)
    runtime = 'OpenVINO' if openvino else 'onnxruntime'
    print(f'wrote {path} ({Path(path).stat().st_size / 1024:.1f} KiB), verified in {runtime}')
    return Path(path)
