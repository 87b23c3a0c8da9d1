"""What each ``razor-ext`` command does, one module per command, so ``razor_ext.cli`` stays a
thin parser: ``run_config`` (train / search / prune / distill / quantize: run a config, then
leave its result in the work dir and print where), ``export_config``, ``list_configs``.

Example:
    >>> names = list_configs('ptq')  # doctest: +ELLIPSIS
    razor_ext::quantization/ptq_int8_mnist5k.py
    ...
"""
from razor_ext.commands.errors import CommandError
from razor_ext.commands.export import export_config
from razor_ext.commands.listing import list_configs
from razor_ext.commands.loading import load_cfg, parse_cfg_options
from razor_ext.commands.outputs import Outputs, write_outputs
from razor_ext.commands.run import check_device, run_config

__all__ = ['CommandError', 'Outputs', 'check_device', 'export_config', 'list_configs', 'load_cfg',
           'parse_cfg_options', 'run_config', 'write_outputs']
